package api

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lcnet/lcnet/api/client"
)

func TestOperations(t *testing.T) {
	f := newFake("m")
	_, ts := newTestServer(t, f, nil)
	// Traffic for the metrics to count.
	do(t, "POST", ts.URL+"/v1/models/m/classify", "image/png", bytes.NewReader(solid(t, "png", red, 20, 20)))
	do(t, "GET", ts.URL+"/v1/models/nope", "", nil)

	tests := []struct {
		path, contentType string
		status            int
		contains          []string
	}{
		{"/healthz", "application/json", 200, []string{`"ok"`}},
		{"/readyz", "application/json", 200, []string{`"ok"`}},
		{"/metrics", "text/plain", 200, []string{
			`lcnet_http_requests_total{code="200",method="POST",route="/v1/models/{name}/classify"} 1`,
			`lcnet_http_requests_total{code="404",method="GET",route="/v1/models/{name}"} 1`,
			"lcnet_http_request_duration_seconds_bucket", "lcnet_batch_size_images_bucket",
			"lcnet_queue_depth_images 0", "lcnet_models_loaded 1", "go_goroutines"}},
		{"/openapi.json", "application/json", 200, []string{`"openapi": "3.0.3"`, "/v1/models/{name}/classify", "application/problem+json"}},
		{"/openapi.yaml", "application/yaml", 200, []string{"openapi: 3.0.3", "/v1/models/{name}/classify:", "application/problem+json"}},
		{"/docs/index.html", "text/html", 200, []string{"swagger-ui"}},
		{"/docs/swagger-ui-bundle.js", "", 200, nil},
		{"/", "text/html", 200, []string{`id="model"`, `id="file"`, `id="results"`, `id="latency"`, `id="hint" hidden`}},
		{"/static/app.js", "", 200, []string{"/v1/models", "classify"}},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := do(t, "GET", ts.URL+tt.path, "", nil)
			if r.status != tt.status {
				t.Fatalf("status %d: %.300s", r.status, r.body)
			}
			if !strings.HasPrefix(r.header.Get("Content-Type"), tt.contentType) {
				t.Errorf("Content-Type %q, want %s", r.header.Get("Content-Type"), tt.contentType)
			}
			for _, want := range tt.contains {
				if !bytes.Contains(r.body, []byte(want)) {
					t.Errorf("body lacks %q", want)
				}
			}
		})
	}
	t.Run("/docs redirects", func(t *testing.T) {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := c.Get(ts.URL + "/docs")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 301 || res.Header.Get("Location") != "/docs/index.html" {
			t.Errorf("%d -> %q", res.StatusCode, res.Header.Get("Location"))
		}
	})
}

func TestIndexOnEmptyZoo(t *testing.T) {
	_, ts := newTestServer(t, newFake(), func(c *Config) { c.APIKey = "k" })
	r := do(t, "GET", ts.URL+"/", "", nil)
	for _, want := range []string{`<section id="hint">`, "lcnet convert", "lcnet pull", "POST /v1/models", "Authorization: Bearer", `id="app" hidden`} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestServeDrains checks the shutdown path: a request in flight when the
// context ends still gets its answer, /readyz says 503 during the grace,
// new connections are refused after it, and Serve returns nil.
func TestServeDrains(t *testing.T) {
	f := newFake("m")
	f.gate = make(chan struct{})
	s, err := New(Config{backend: f})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String()

	inflight := make(chan result, 1)
	go func() {
		inflight <- do(t, "POST", url+"/v1/models/m/classify", "image/png", bytes.NewReader(solid(t, "png", red, 20, 20)))
	}()
	// Wait until the request is inside the network.
	for f.calls.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	// During the shutdown grace the server is not ready but still answers.
	time.Sleep(50 * time.Millisecond)
	if res, err := http.Get(url + "/readyz"); err != nil {
		t.Errorf("readyz during the shutdown grace: %v", err)
	} else {
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("readyz during the shutdown grace: %d, want 503", res.StatusCode)
		}
	}
	time.Sleep(s.cfg.ShutdownGrace + 100*time.Millisecond)
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("new connection accepted while draining")
	}
	close(f.gate)
	if r := <-inflight; r.status != 200 {
		t.Errorf("in-flight request: %d %s", r.status, r.body)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
	// After Close, requests through the handler get 503.
	rec := httptest.NewRecorder()
	req, _ := http.NewRequest("POST", "/v1/models/m/classify", bytes.NewReader(solid(t, "png", red, 20, 20)))
	req.Header.Set("Content-Type", "image/png")
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != 503 {
		t.Errorf("after shutdown: %d %s", rec.Code, rec.Body.String())
	}
}

// TestSlowBody checks a client that stalls mid-body is cut off at the
// request deadline instead of holding a handler.
func TestSlowBody(t *testing.T) {
	_, ts := newTestServer(t, newFake("m"), func(c *Config) { c.RequestTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/models/m/classify HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n\x89PNG")
	start := time.Now()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestTimeout || time.Since(start) > 2*time.Second {
		t.Errorf("status %d after %v, want 408 near the 300ms deadline", res.StatusCode, time.Since(start))
	}
}

func TestDraining(t *testing.T) {
	s, ts := newTestServer(t, newFake("m"), nil)
	s.draining.Store(true)
	if r := do(t, "GET", ts.URL+"/readyz", "", nil); r.status != 503 {
		t.Errorf("/readyz while draining: %d", r.status)
	}
	if r := do(t, "GET", ts.URL+"/v2/health/ready", "", nil); r.status != 503 || decode[client.V2Ready](t, r).Ready {
		t.Errorf("/v2/health/ready while draining: %d %s", r.status, r.body)
	}
	if r := do(t, "GET", ts.URL+"/healthz", "", nil); r.status != 200 {
		t.Errorf("/healthz while draining: %d", r.status)
	}
	r := do(t, "POST", ts.URL+"/v1/models/m/classify", "image/png", bytes.NewReader(solid(t, "png", red, 20, 20)))
	checkProblem(t, r, 503, "shutting down")
	if r.header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
}
