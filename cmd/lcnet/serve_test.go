package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lcnet/lcnet/api"
	"github.com/lcnet/lcnet/internal/fixtures"
)

// lockedBuffer is a bytes.Buffer the server goroutine writes logs into
// while the test reads them.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServePullOnDemand runs `lcnet serve --pull` in-process on an empty
// store with a local mirror: it logs how to add a model, a classify
// request for a catalog model pulls it, and cancelling the context (what
// SIGTERM does in main) stops it with exit 0.
func TestServePullOnDemand(t *testing.T) {
	data, err := os.ReadFile(fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"))
	if err != nil {
		t.Fatal(err)
	}
	var downloads int
	var mu sync.Mutex
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		downloads++
		mu.Unlock()
		http.ServeContent(w, r, "x", time.Time{}, bytes.NewReader(data))
	}))
	defer mirror.Close()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	store := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr lockedBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- runEnv(ctx, []string{"serve", "--addr", addr, "--store", store, "--mirror", mirror.URL},
			&stdout, &stderr, func(k string) string {
				if k == "LCNET_PULL" {
					return "1"
				}
				return ""
			})
	}()
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case code := <-exit:
			t.Fatalf("serve exited %d early:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 20s:\n%s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stderr.String(), "lcnet pull") || !strings.Contains(stderr.String(), "POST /v1/models") {
		t.Errorf("an empty zoo was not explained in the log:\n%s", stderr.String())
	}

	img := filepath.Join(t.TempDir(), "a.png")
	writeTestPNG(t, img)
	png, _ := os.ReadFile(img)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("image", "a.png")
	if _, err := fw.Write(png); err != nil {
		t.Fatal(err)
	}
	mw.Close()
	resp, err := http.Post(base+"/v1/models/PPLCNet_x0_25/classify", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Model, Version string
		Results        []struct{ Predictions []prediction }
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || res.Model != "PPLCNet_x0_25" || len(res.Results) != 1 {
		t.Fatalf("classify on a pulled model: %d %+v\n%s", resp.StatusCode, res, stderr.String())
	}
	if refs := zooRefs(t, store); strings.Join(refs, " ") != "PPLCNet_x0_25:1" {
		t.Fatalf("after the pull the zoo holds %v", refs)
	}

	cancel()
	select {
	case code := <-exit:
		if code != 0 {
			t.Fatalf("serve exited %d after shutdown:\n%s", code, stderr.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatal("serve did not stop after its context was cancelled")
	}
	mu.Lock()
	defer mu.Unlock()
	if downloads != 1 {
		t.Errorf("%d downloads, want 1", downloads)
	}
}

// TestClassifyThroughServer: --server gives the same answer as running the
// model in-process, through the api package's client.
func TestClassifyThroughServer(t *testing.T) {
	store := t.TempDir()
	mustLcnet(t, "convert", fixtures.Path(t, "golden", "PPLCNet_x0_25.pdparams"), "--name", "g", "--store", store)
	z, err := openZoo(context.Background(), store)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Zoo: z})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	img := filepath.Join(t.TempDir(), "a.png")
	writeTestPNG(t, img)

	var local, remote classifyOutput
	if err := json.Unmarshal([]byte(mustLcnet(t, "classify", img, "--model", "g:1", "--json", "--store", store)), &local); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(mustLcnet(t, "classify", img, "--model", "g:1", "--json", "--server", hs.URL)), &remote); err != nil {
		t.Fatal(err)
	}
	if len(local.Results) != 1 || len(remote.Results) != 1 || remote.Model != "g" || remote.Version != "1" {
		t.Fatalf("local %+v, remote %+v", local, remote)
	}
	lp, rp := local.Results[0].Predictions, remote.Results[0].Predictions
	if len(lp) != 5 || len(rp) != 5 {
		t.Fatalf("got %d and %d predictions, want 5", len(lp), len(rp))
	}
	for i := range lp {
		if lp[i].ClassID != rp[i].ClassID || math.Abs(lp[i].Score-rp[i].Score) > 1e-4 {
			t.Fatalf("rank %d: local %+v, server %+v", i+1, lp[i], rp[i])
		}
	}
	_, errOut, code := lcnet(t, nil, "classify", img, "--model", "nosuch", "--server", hs.URL)
	wantFailure(t, code, errOut, exitFail, "lcnet classify: ", "404")
	_, errOut, code = lcnet(t, nil, "classify", img, "--model", "g", "--server", "ftp://x")
	wantFailure(t, code, errOut, exitUsage, "lcnet classify: ", "--server")
}

func TestServeFailures(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		says string
	}{
		{"store is a file", []string{"serve", "--store", file, "--addr", "127.0.0.1:0"}, "file"},
		{"bad address", []string{"serve", "--store", t.TempDir(), "--addr", "127.0.0.1:99999"}, "99999"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout bytes.Buffer
			var stderr lockedBuffer
			code := runEnv(context.Background(), tc.args, &stdout, &stderr, func(string) string { return "" })
			// The log lines before the failure are slog records; the
			// failure itself is the last line.
			lines := strings.Split(strings.TrimRight(stderr.String(), "\n"), "\n")
			last := lines[len(lines)-1]
			if code != exitFail || !strings.HasPrefix(last, "lcnet serve: ") || !strings.Contains(last, tc.says) {
				t.Fatalf("exit %d, last line %q; want 1 and a line naming %q", code, last, tc.says)
			}
		})
	}
}

// TestServeCleansDeadUploads plants the upload directory a server killed
// mid-upload leaves in STORE/tmp: the next serve removes it at start-up
// and keeps one touched after its start (a live upload of another
// process sharing the store).
func TestServeCleansDeadUploads(t *testing.T) {
	store := t.TempDir()
	dead := filepath.Join(store, "tmp", "lcnet-upload-123")
	live := filepath.Join(store, "tmp", "lcnet-upload-456")
	for _, dir := range []string{dead, live} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "model.pdparams"), []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	for p, tm := range map[string]time.Time{dead: past, filepath.Join(dead, "model.pdparams"): past,
		live: future, filepath.Join(live, "model.pdparams"): future} {
		if err := os.Chtimes(p, tm, tm); err != nil {
			t.Fatal(err)
		}
	}
	// An unusable address makes serve stop right after its start-up work.
	var stdout bytes.Buffer
	var stderr lockedBuffer
	code := runEnv(context.Background(), []string{"serve", "--store", store, "--addr", "127.0.0.1:99999"}, &stdout, &stderr, func(string) string { return "" })
	if code != exitFail {
		t.Fatalf("exit %d, want %d:\n%s", code, exitFail, stderr.String())
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("the dead upload survived serve's start-up: %v\n%s", err, stderr.String())
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("an upload touched after the start was removed: %v", err)
	}
	if !strings.Contains(stderr.String(), "uploads=1") {
		t.Errorf("the cleanup was not logged:\n%s", stderr.String())
	}
}

// TestReadmeListsServeFlags keeps the README's Configuration table in
// step with the serve command: every flag has a row.
func TestReadmeListsServeFlags(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, config, ok := strings.Cut(string(readme), "\n## Configuration\n")
	if !ok {
		t.Fatal("README.md has no Configuration section")
	}
	config, _, _ = strings.Cut(config, "\n## ")
	a := &app{stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	flags := regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z-]+)`).FindAllStringSubmatch(a.serveCmd().Flags().FlagUsages(), -1)
	if len(flags) < 10 {
		t.Fatalf("parsed %d flags from the usage; its format changed", len(flags))
	}
	for _, m := range flags {
		if m[1] != "help" && !strings.Contains(config, "| `--"+m[1]+"`") {
			t.Errorf("README's Configuration table has no row for --%s", m[1])
		}
	}
}
