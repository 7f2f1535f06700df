// Package e2e drives the real lcnet binary over HTTP, with the real curl
// binary and a headless Chromium, the way a user meets the service.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lcnet/lcnet/internal/testbin"
)

// lcnetBin is the binary built once by TestMain.
var lcnetBin string

func TestMain(m *testing.M) { testbin.Main(m, &lcnetBin) }

// inCI reports whether missing tools must fail the test instead of skipping.
func inCI() bool { return os.Getenv("CI") != "" }

// requireTool returns the path of an external program, or skips (fails in CI).
func requireTool(t *testing.T, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	if inCI() {
		t.Fatalf("%s is not installed, and CI must run this test (apt-get install %s)", names[0], names[0])
	}
	t.Skipf("%s is not installed; skipping (apt-get install %s)", names[0], names[0])
	return ""
}

// run executes the lcnet binary to completion and returns its output.
func run(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, lcnetBin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	code = 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("lcnet %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return o.String(), e.String(), code
}

// mustRun is run that fails the test on a non-zero exit.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, errOut, code := run(t, args...)
	if code != 0 {
		t.Fatalf("lcnet %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// server is one running `lcnet serve`.
type server struct {
	t     *testing.T
	cmd   *exec.Cmd
	URL   string
	Store string
	logs  *testbin.Output
	done  chan struct{}
	state *os.ProcessState
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

// startServer runs `lcnet serve` on a free loopback port over store and
// waits until /readyz answers. The server is stopped when the test ends.
func startServer(t *testing.T, store string, extra ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	args := append([]string{"serve", "--addr", addr, "--store", store}, extra...)
	cmd := exec.Command(lcnetBin, args...)
	logs := &testbin.Output{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, cmd: cmd, URL: "http://" + addr, Store: store, logs: logs, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		s.state = cmd.ProcessState
		close(s.done)
	}()
	t.Cleanup(func() {
		s.stop(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-s.done:
			t.Fatalf("lcnet serve exited early: %v\n%s", s.state, logs.String())
		default:
		}
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("lcnet serve did not become ready in 30s\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends sig and waits for the process to end, returning its exit code.
func (s *server) stop(sig os.Signal) int {
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(sig)
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	if s.state == nil {
		return -1
	}
	return s.state.ExitCode()
}

// curlResult is what the real curl binary saw.
type curlResult struct {
	Status      int
	ContentType string
	Body        []byte
}

// curl runs the curl binary with args plus options that print the status
// and content type after the body.
func curl(t *testing.T, args ...string) curlResult {
	t.Helper()
	bin := requireTool(t, "curl")
	const sep = "\n--lcnet-e2e--\n"
	full := append([]string{"-sS", "-w", sep + "%{http_code} %{content_type}"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, full...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("curl %s: %v %s", strings.Join(args, " "), err, stderr)
	}
	i := bytes.LastIndex(out, []byte(sep))
	if i < 0 {
		t.Fatalf("curl output without status line: %q", out)
	}
	var r curlResult
	tail := strings.TrimSpace(string(out[i+len(sep):]))
	if _, err := fmt.Sscanf(tail, "%d", &r.Status); err != nil {
		t.Fatalf("curl status line %q: %v", tail, err)
	}
	if sp := strings.IndexByte(tail, ' '); sp >= 0 {
		r.ContentType = tail[sp+1:]
	}
	r.Body = out[:i]
	return r
}

// decode unmarshals a JSON body, failing the test with the body on error.
func decode[T any](t *testing.T, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decoding %q: %v", truncate(body), err)
	}
	return v
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// httpDo is a plain Go request for cases curl cannot express cleanly.
func httpDo(t *testing.T, method, url, contentType string, body io.Reader, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// repoRoot is the module root, for fixtures beside it.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}
