package scaleout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/lcnet/lcnet/internal/testbin"
)

// binDir holds the lcnet binary, built on first use so that a run without
// weed or nginx skips without compiling anything.
var (
	binDir    string
	buildOnce sync.Once
	lcnetBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "lcnet-scaleout-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func lcnet(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		lcnetBin = filepath.Join(binDir, "lcnet")
		out, err := exec.Command("go", "build", "-o", lcnetBin, "../../cmd/lcnet").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building cmd/lcnet: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return lcnetBin
}

// inCI is the repository's rule (see internal/fixtures): under CI a
// missing prerequisite fails instead of skipping.
func inCI() bool { return os.Getenv("CI") != "" }

func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if inCI() {
		t.Fatalf("%s, and CI must run the scale-out tests", msg)
	}
	t.Skipf("%s; skipping", msg)
}

// nginxBinary finds nginx; Debian installs it in /usr/sbin, which is not
// on every user's PATH.
func nginxBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nginx"); err == nil {
		return "/usr/sbin/nginx"
	}
	missing(t, "nginx is not installed (apt-get install nginx)")
	return ""
}

// weedBinary finds SeaweedFS' weed: $LCNET_WEED, weed on PATH, or where
// e2e/s3/start-weed.sh caches its build. It never builds weed itself: that
// takes minutes, longer than a go test run should, so CI builds it once
// beforehand and a missing binary fails there.
func weedBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LCNET_WEED"); p != "" {
		return p
	}
	if p, err := exec.LookPath("weed"); err == nil {
		return p
	}
	p := scriptWeedPath(t, "../s3/start-weed.sh")
	if p != "" {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	missing(t, "no SeaweedFS weed binary at %q, on PATH or in LCNET_WEED (build it once with e2e/s3/start-weed.sh build)", p)
	return ""
}

// scriptWeedPath is the binary path start-weed.sh uses, computed as the
// script does (WEED_BIN, else the cache dir and the script's pinned
// WEED_VERSION), so the test and the script agree on one cached build.
func scriptWeedPath(t *testing.T, script string) string {
	if p := os.Getenv("WEED_BIN"); p != "" {
		return p
	}
	b, err := os.ReadFile(script)
	if err != nil {
		t.Logf("reading %s: %v", script, err)
		return ""
	}
	version := os.Getenv("WEED_VERSION")
	if version == "" {
		m := regexp.MustCompile(`VERSION=\$\{WEED_VERSION:-([^}]+)\}`).FindSubmatch(b)
		if m == nil {
			t.Logf("%s: no WEED_VERSION default found", script)
			return ""
		}
		version = string(m[1])
	}
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		cache = filepath.Join(os.Getenv("HOME"), ".cache")
	}
	return filepath.Join(cache, "lcnet", "weed-"+version)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// replica is one `lcnet serve` over the shared store. Restarts keep the
// address, as a pod behind a Service or an nginx upstream would.
type replica struct {
	t     *testing.T
	name  string
	addr  string
	URL   string
	store string
	extra []string
	logs  *testbin.Output

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func startReplica(t *testing.T, name, store string, extra ...string) *replica {
	t.Helper()
	addr := freeAddr(t)
	r := &replica{t: t, name: name, addr: addr, URL: "http://" + addr, store: store, extra: extra, logs: &testbin.Output{}}
	r.start(t)
	t.Cleanup(func() {
		r.stop(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("replica %s log:\n%s", name, r.logs.String())
		}
	})
	return r
}

func (r *replica) start(t *testing.T) {
	t.Helper()
	args := append([]string{"serve", "--addr", r.addr, "--store", r.store}, r.extra...)
	cmd := exec.Command(lcnet(t), args...)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	fmt.Fprintf(r.logs, "--- %s: lcnet %s\n", time.Now().Format(time.RFC3339Nano), strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	r.mu.Lock()
	r.cmd, r.done = cmd, done
	r.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("replica %s exited at start: %v\n%s", r.name, cmd.ProcessState, r.logs.String())
		default:
		}
		if resp, err := http.Get(r.URL + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s not ready in 60 s\n%s", r.name, r.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop signals the process and waits for it; it returns the exit code
// (-1 when killed by a signal).
func (r *replica) stop(sig syscall.Signal) int {
	r.mu.Lock()
	cmd, done := r.cmd, r.done
	r.mu.Unlock()
	if cmd == nil {
		return -1
	}
	select {
	case <-done:
	default:
		_ = cmd.Process.Signal(sig)
		select {
		case <-done:
		case <-time.After(45 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	}
	return cmd.ProcessState.ExitCode()
}

// childEnv is the test's environment (with the S3 credentials StartS3
// set) minus LCNET_*, so a developer's own LCNET_STORE or LCNET_API_KEY
// cannot change what the replicas do.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LCNET_") {
			env = append(env, kv)
		}
	}
	return env
}

// refreshFlag looks in `lcnet serve --help` for a flag that sets how long
// a replica trusts what it read from the store (api.Config.ResolveTTL has
// no flag yet).
func refreshFlag(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(lcnet(t), "serve", "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("lcnet serve --help: %v\n%s", err, out)
	}
	for _, f := range []string{"resolve-ttl", "refresh-interval", "refresh", "poll-interval", "watch-interval"} {
		if regexp.MustCompile(`(?m)^\s+--` + f + `\s`).Match(out) {
			return f
		}
	}
	return ""
}

// nginxProxy is a non-daemon nginx with its own prefix, config, logs and
// temp dirs under a test temp dir.
type nginxProxy struct {
	URL string
	dir string
}

// shippedNginxConf is the configuration deploy/ recommends; the test runs
// it as is, with only the replica addresses and the listen address
// replaced, plus a header naming the replica that answered.
const shippedNginxConf = "../../deploy/nginx/lcnet.conf"

// nginxMain is the rest of a complete nginx configuration: everything in
// the test's temp dir, so nginx needs nothing of the machine's own setup.
var nginxMain = template.Must(template.New("nginx.conf").Parse(`
{{if .Root}}user root;{{end}}
worker_processes 1;
pid {{.Dir}}/nginx.pid;
error_log {{.Dir}}/error.log info;
events { worker_connections 512; }
http {
	log_format upstream '$status $request_time "$request" upstream=$upstream_addr upstream_status=$upstream_status';
	access_log {{.Dir}}/access.log upstream;
	client_body_temp_path {{.Dir}}/client_body;
	proxy_temp_path {{.Dir}}/proxy;
	fastcgi_temp_path {{.Dir}}/fastcgi;
	uwsgi_temp_path {{.Dir}}/uwsgi;
	scgi_temp_path {{.Dir}}/scgi;
	include {{.Dir}}/lcnet.conf;
}
`))

// adaptNginxConf points the shipped configuration at this test's
// replicas and port.
func adaptNginxConf(t *testing.T, listen string, upstreams []string) []byte {
	t.Helper()
	b, err := os.ReadFile(shippedNginxConf)
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	replace := func(old, new string) {
		if n := strings.Count(conf, old); n != 1 {
			t.Fatalf("%s: %q occurs %d times; the test replaces it once", shippedNginxConf, old, n)
		}
		conf = strings.Replace(conf, old, new, 1)
	}
	if len(upstreams) != 2 {
		t.Fatalf("the shipped configuration lists two replicas, not %d", len(upstreams))
	}
	replace("server 127.0.0.1:8081 ", "server "+upstreams[0]+" ")
	replace("server 127.0.0.1:8082 ", "server "+upstreams[1]+" ")
	replace("\tlisten 80;", "\tlisten "+listen+";\n\tadd_header X-Lcnet-Upstream $upstream_addr always;")
	return []byte(conf)
}

func startNginx(t *testing.T, upstreams ...string) *nginxProxy {
	t.Helper()
	bin := nginxBinary(t)
	dir := t.TempDir()
	listen := freeAddr(t)
	var conf bytes.Buffer
	err := nginxMain.Execute(&conf, map[string]any{
		// As root, nginx would run its worker as nobody, which cannot
		// use the temp dirs under the test's private TempDir.
		"Root": os.Geteuid() == 0, "Dir": dir,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lcnet.conf"), adaptNginxConf(t, listen, upstreams), 0o600); err != nil {
		t.Fatal(err)
	}
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, conf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// -e: the error log before the config is read (the compiled-in
	// /var/log/nginx may not be writable); daemon off: a child the test
	// can wait for and stop.
	cmd := exec.Command(bin, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;")
	var out testbin.Output
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group: the master and its worker are stopped
	// together, and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p := &nginxProxy{URL: "http://" + listen, dir: dir}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log (last lines):\n%s%s", tail(string(b), 40), out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx exited: %v\n%s%s", cmd.ProcessState, out.String(), b)
		default:
		}
		if resp, err := http.Get(p.URL + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx on %s not answering /healthz in 20 s\n%s", listen, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n") + "\n"
}

// HTTP helpers. Every call has a deadline, so a hung replica fails the
// test instead of hanging it.

var client = &http.Client{Timeout: 2 * time.Minute}

type versionInfo struct {
	Version       string `json:"version"`
	Architecture  string `json:"architecture"`
	WeightsSHA256 string `json:"weights_sha256"`
}

type modelInfo struct {
	Name     string        `json:"name"`
	Latest   string        `json:"latest"`
	Versions []versionInfo `json:"versions"`
}

type classifyResponse struct {
	Model   string `json:"model"`
	Version string `json:"version"`
	Results []struct {
		Predictions []struct {
			ClassID int     `json:"class_id"`
			Score   float64 `json:"score"`
		} `json:"predictions"`
	} `json:"results"`
}

// upload POSTs a checkpoint to /v1/models as a multipart form.
func upload(ctx context.Context, base, name, path string) (int, versionInfo, string, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := mw.WriteField("name", name)
		if err == nil {
			var fw io.Writer
			if fw, err = mw.CreateFormFile("file", filepath.Base(path)); err == nil {
				var f *os.File
				if f, err = os.Open(path); err == nil {
					_, err = io.Copy(fw, f)
					f.Close()
				}
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/models", pr)
	if err != nil {
		return 0, versionInfo{}, "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := client.Do(req)
	if err != nil {
		return 0, versionInfo{}, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var v versionInfo
	if resp.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(body, &v); err != nil {
			return resp.StatusCode, v, string(body), err
		}
	}
	return resp.StatusCode, v, string(body), nil
}

func getModel(base, name string) (int, modelInfo, error) {
	resp, err := client.Get(base + "/v1/models/" + name)
	if err != nil {
		return 0, modelInfo{}, err
	}
	defer resp.Body.Close()
	var m modelInfo
	if resp.StatusCode == http.StatusOK {
		err = json.NewDecoder(resp.Body).Decode(&m)
	}
	return resp.StatusCode, m, err
}

// classify sends img as a raw body; version may be "".
func classify(ctx context.Context, c *http.Client, base, name, version string, img []byte) (int, classifyResponse, http.Header, error) {
	u := base + "/v1/models/" + name + "/classify?top_k=1"
	if version != "" {
		u += "&version=" + version
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(img))
	if err != nil {
		return 0, classifyResponse{}, nil, err
	}
	req.Header.Set("Content-Type", "image/png")
	resp, err := c.Do(req)
	if err != nil {
		return 0, classifyResponse{}, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	var cr classifyResponse
	if err == nil && resp.StatusCode == http.StatusOK {
		err = json.Unmarshal(body, &cr)
	}
	if resp.StatusCode != http.StatusOK && err == nil {
		err = fmt.Errorf("%d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	return resp.StatusCode, cr, resp.Header, err
}

func deleteVersion(base, name, version string) (int, error) {
	req, err := http.NewRequest(http.MethodDelete, base+"/v1/models/"+name+"/versions/"+version, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// testPNG is a small synthetic photo-like image (gradients), generated
// rather than read so the test needs no image fixture.
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 96, 96))
	for y := 0; y < 96; y++ {
		for x := 0; x < 96; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / 95), uint8(y * 255 / 95), uint8((x + y) * 255 / 190), 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
