package api

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/lcnet/lcnet/api/client"
)

// Browser attacks (issue #18): a web page the user of a key-less server
// visits must not change its models, by a cross-site form or fetch
// (Origin) or by re-pointing its own name at 127.0.0.1 (DNS rebinding,
// Host). These tests go through a real listener, as the Host check
// depends on the address the server is bound to.

// listenServer serves be on addr (a loopback or wildcard address with
// port 0) through Serve, and returns the server's port and a base URL
// that reaches it over loopback.
func listenServer(t *testing.T, be backend, addr string, mod func(*Config)) (port, base string) {
	t.Helper()
	cfg := Config{backend: be, ShutdownGrace: -1}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	_, port, _ = net.SplitHostPort(ln.Addr().String())
	return port, "http://127.0.0.1:" + port
}

// browserDo sends one request with the given Host (empty: the URL's) and
// headers, and returns the answer.
func browserDo(t *testing.T, method, url, host, contentType string, body []byte, hdr map[string]string) result {
	t.Helper()
	var pairs []string
	if host != "" {
		pairs = append(pairs, "Host", host)
	}
	for k, v := range hdr {
		pairs = append(pairs, k, v)
	}
	return do(t, method, url, contentType, bytes.NewReader(body), pairs...)
}

// wantRefusal checks a problem+json answer of status whose detail names
// the flag that would allow the request.
func wantRefusal(t *testing.T, r result, status int, flag string) {
	t.Helper()
	if r.status != status || r.header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d %q, want %d problem+json: %s", r.status, r.header.Get("Content-Type"), status, r.body)
	}
	var p client.Problem
	if err := json.Unmarshal(r.body, &p); err != nil || p.Status != status {
		t.Fatalf("problem %s: %v", r.body, err)
	}
	if !strings.Contains(p.Detail, flag) {
		t.Errorf("detail %q does not say to use %s", p.Detail, flag)
	}
}

// modelUpload is a multipart body POST /v1/models accepts from the fake
// backend: a name and one file.
func modelUpload(t *testing.T, name string) (contentType string, body []byte) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if err := mw.WriteField("name", name); err != nil {
		t.Fatal(err)
	}
	fw, err := mw.CreateFormFile("file", "m.pdparams")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fw.Write([]byte("weights")); err != nil {
		t.Fatal(err)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), b.Bytes()
}

func TestCrossOriginRefused(t *testing.T) {
	const allowed = "https://app.example"
	for _, key := range []string{"", "secret"} {
		f := newFake("m", "m")
		port, base := listenServer(t, f, "127.0.0.1:0", func(c *Config) {
			c.APIKey = key
			c.CORSOrigins = []string{allowed + "/"} // a trailing slash as users write it
		})
		self := "http://127.0.0.1:" + port
		uploadCT, upload := modelUpload(t, "planted")
		tests := []struct {
			name, method, path, ct string
			body                   []byte
			origin                 string
			status                 int               // 0: refused with 403
			hdr                    map[string]string // more headers
		}{
			{"upload from another site", "POST", "/v1/models", uploadCT, upload, "http://evil.example", 0, nil},
			{"upload from a sandboxed frame", "POST", "/v1/models", uploadCT, upload, "null", 0, nil},
			{"upload from the same host on another port", "POST", "/v1/models", uploadCT, upload, "http://127.0.0.1:1", 0, nil},
			{"upload from the same host over https", "POST", "/v1/models", uploadCT, upload, "https://127.0.0.1:" + port, 0, nil},
			{"delete from another site", "DELETE", "/v1/models/m/versions/1", "", nil, "http://evil.example", 0, nil},
			{"finetune from another site", "POST", "/v1/models/m/finetune", "", nil, "http://evil.example", 0, nil},
			{"cancel a job from another site", "DELETE", "/v1/jobs/0123456789abcdef", "", nil, "http://evil.example", 0, nil},

			{"upload from the server's own page", "POST", "/v1/models", uploadCT, upload, self, http.StatusCreated, nil},
			{"upload from a --cors-origin", "POST", "/v1/models", uploadCT, upload, allowed, http.StatusCreated, nil},
			{"upload from no browser", "POST", "/v1/models", uploadCT, upload, "", http.StatusCreated, nil},
			// Behind a proxy that ends TLS and says so (deploy/nginx).
			{"upload from the server's own https page behind a proxy", "POST", "/v1/models", uploadCT, upload, "https://127.0.0.1:" + port, http.StatusCreated, map[string]string{"X-Forwarded-Proto": "https"}},
			{"delete from the server's own page", "DELETE", "/v1/models/m/versions/1", "", nil, self, http.StatusNoContent, nil},
			// Past the origin check: the fake backend has no zoo to
			// fine-tune in, and no job has this id.
			{"finetune from a --cors-origin", "POST", "/v1/models/m/finetune", "", nil, allowed, http.StatusNotImplemented, nil},
			{"cancel a job from the server's own page", "DELETE", "/v1/jobs/0123456789abcdef", "", nil, self, http.StatusNotFound, nil},

			// Reading is harmless: the page cannot read the answer
			// without CORS, and classifying changes nothing.
			{"classify from another site", "POST", "/v1/models/m/classify", "image/png", solid(t, "png", red, 8, 8), "http://evil.example", http.StatusOK, nil},
			{"list from another site", "GET", "/v1/models", "", nil, "http://evil.example", http.StatusOK, nil},
		}
		for _, tc := range tests {
			t.Run(fmtKey(key)+"/"+tc.name, func(t *testing.T) {
				hdr := map[string]string{}
				for k, v := range tc.hdr {
					hdr[k] = v
				}
				if tc.origin != "" {
					hdr["Origin"] = tc.origin
				}
				if key != "" {
					hdr["Authorization"] = "Bearer " + key
				}
				imports, versions := f.imports.Load(), f.count("m")
				r := browserDo(t, tc.method, base+tc.path, "", tc.ct, tc.body, hdr)
				if tc.status == 0 {
					wantRefusal(t, r, http.StatusForbidden, "--cors-origin")
					if f.imports.Load() != imports || f.count("m") != versions {
						t.Error("the refused request changed the zoo")
					}
					return
				}
				if r.status != tc.status {
					t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
				}
				allow := r.header.Get("Access-Control-Allow-Origin")
				if tc.origin == allowed && allow != allowed {
					t.Errorf("Access-Control-Allow-Origin %q for a --cors-origin, want %q", allow, allowed)
				}
				if tc.origin != allowed && allow != "" {
					t.Errorf("Access-Control-Allow-Origin %q for origin %q", allow, tc.origin)
				}
			})
		}
	}
}

// count is how many versions the fake holds of name.
func (f *fakeBackend) count(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.versions[name])
}

func fmtKey(key string) string {
	if key == "" {
		return "no key"
	}
	return "with key"
}

// TestCORSPreflight: a --cors-origin's preflight is answered, with the
// methods and headers the management routes need; another origin's gets
// no CORS headers, so the browser never sends the request.
func TestCORSPreflight(t *testing.T) {
	const allowed = "https://app.example"
	_, base := listenServer(t, newFake("m"), "127.0.0.1:0", func(c *Config) { c.CORSOrigins = []string{allowed} })
	for _, origin := range []string{allowed, "http://evil.example"} {
		r := browserDo(t, "OPTIONS", base+"/v1/models/m/versions/1", "", "", nil, map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "DELETE", "Access-Control-Request-Headers": "authorization",
		})
		h := r.header
		t.Logf("%s: %d, Allow-Origin %q, Allow-Methods %q", origin, r.status, h.Get("Access-Control-Allow-Origin"), h.Get("Access-Control-Allow-Methods"))
		if origin != allowed {
			if h.Get("Access-Control-Allow-Origin") != "" || h.Get("Access-Control-Allow-Methods") != "" {
				t.Errorf("preflight from %s answered with CORS headers %v", origin, h)
			}
			continue
		}
		if r.status != http.StatusNoContent || h.Get("Access-Control-Allow-Origin") != allowed ||
			!strings.Contains(h.Get("Access-Control-Allow-Methods"), "DELETE") ||
			!strings.Contains(strings.ToLower(h.Get("Access-Control-Allow-Headers")), "authorization") {
			t.Errorf("preflight from %s: %d %v", origin, r.status, h)
		}
	}
}

// TestHostChecked: bound to loopback, the server answers only its own
// names (DNS rebinding sends the attacker's); bound to all interfaces it
// cannot know its names and answers any, unless --allowed-host lists them.
func TestHostChecked(t *testing.T) {
	type hostCase struct {
		host string
		ok   bool
	}
	for _, tc := range []struct {
		name    string
		addr    string
		allowed []string
		hosts   []hostCase
	}{
		{"loopback", "127.0.0.1:0", nil, []hostCase{
			{"evil.example", false}, {"evil.example:PORT", false}, {"127.0.0.1.evil.example", false},
			{"localhost", true}, {"localhost:PORT", true}, {"LOCALHOST.:PORT", true},
			{"127.0.0.1", true}, {"127.0.0.1:PORT", true}, {"[::1]", true}, {"[::1]:PORT", true},
			{"lcnet.internal", false},
		}},
		{"loopback with --allowed-host", "127.0.0.1:0", []string{"lcnet.internal", "other.internal:9000"}, []hostCase{
			{"lcnet.internal", true}, {"lcnet.internal:PORT", true}, {"LCNET.internal", true},
			{"other.internal:9000", true}, {"evil.example", false}, {"localhost:PORT", true},
		}},
		{"all interfaces", "0.0.0.0:0", nil, []hostCase{
			{"evil.example", true}, {"10.1.2.3:8080", true}, {"localhost", true},
		}},
		{"all interfaces with --allowed-host", "0.0.0.0:0", []string{"lcnet.internal"}, []hostCase{
			{"lcnet.internal", true}, {"evil.example", false}, {"localhost:PORT", true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			port, base := listenServer(t, newFake("m"), tc.addr, func(c *Config) { c.AllowedHosts = tc.allowed })
			for _, hc := range tc.hosts {
				host := strings.ReplaceAll(hc.host, "PORT", port)
				// Reading the model list is what a rebinding page is after;
				// classifying is the inference it would steal.
				for _, req := range []struct{ method, path, ct string }{
					{"GET", "/v1/models", ""},
					{"POST", "/v1/models/m/classify", "image/png"},
				} {
					var body []byte
					if req.ct != "" {
						body = solid(t, "png", red, 8, 8)
					}
					r := browserDo(t, req.method, base+req.path, host, req.ct, body, nil)
					if hc.ok {
						if r.status != http.StatusOK {
							t.Errorf("Host %s: %s %s: %d, want 200: %s", host, req.method, req.path, r.status, r.body)
						}
						continue
					}
					if r.status != http.StatusMisdirectedRequest {
						t.Errorf("Host %s: %s %s: %d, want 421: %s", host, req.method, req.path, r.status, r.body)
						continue
					}
					wantRefusal(t, r, http.StatusMisdirectedRequest, "--allowed-host")
				}
			}
		})
	}
}
