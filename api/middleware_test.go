package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lcnet/lcnet/api/client"
)

// The middleware are tested one at a time in front of a handler that
// records what it saw; the routes' tests cover them in place.

func mwServer(t *testing.T, key string) *Server {
	t.Helper()
	s, err := New(Config{backend: newFake("m"), APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func serveOnce(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func wantProblem(t *testing.T, w *httptest.ResponseRecorder, status int) {
	t.Helper()
	if w.Code != status || w.Header().Get("Content-Type") != "application/problem+json" {
		t.Fatalf("status %d %q, want %d problem+json; body %s", w.Code, w.Header().Get("Content-Type"), status, w.Body)
	}
	var p client.Problem
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Status != status {
		t.Fatalf("problem %+v, %v", p, err)
	}
}

func TestMaxBody(t *testing.T) {
	s := mwServer(t, "")
	read := s.handle(func(w http.ResponseWriter, r *http.Request) error {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	h := s.maxBody(10)(read)
	for _, tc := range []struct {
		name     string
		body     string
		declared bool // Content-Length set (false: chunked, length unknown)
		status   int
	}{
		{"under the cap", "0123456789", true, http.StatusNoContent},
		{"declared over the cap", "0123456789a", true, http.StatusRequestEntityTooLarge},
		{"streamed over the cap", "0123456789a", false, http.StatusRequestEntityTooLarge},
		{"streamed under the cap", "0123", false, http.StatusNoContent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			if !tc.declared {
				r.ContentLength = -1
			}
			w := serveOnce(h, r)
			if tc.status == http.StatusNoContent {
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d; body %s", w.Code, tc.status, w.Body)
				}
				return
			}
			wantProblem(t, w, tc.status)
		})
	}
}

func TestDeadlineMiddleware(t *testing.T) {
	var left time.Duration
	h := deadline(time.Minute, time.Minute)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, ok := r.Context().Deadline()
		if !ok {
			t.Error("no deadline on the request context")
		}
		left = time.Until(d)
	}))
	serveOnce(h, httptest.NewRequest("GET", "/", nil))
	if left <= 0 || left > time.Minute {
		t.Fatalf("deadline %v away, want within a minute", left)
	}
}

func TestRecoverer(t *testing.T) {
	s := mwServer(t, "")
	boom := s.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	w := serveOnce(boom, httptest.NewRequest("GET", "/", nil))
	wantProblem(t, w, http.StatusInternalServerError)
	// The panic value is internal text: the body carries only an id that
	// leads to it in the log.
	if strings.Contains(w.Body.String(), "boom") || !strings.Contains(w.Body.String(), "urn:lcnet:error:") {
		t.Errorf("body %s names the panic or lacks an error id", w.Body)
	}

	// http.ErrAbortHandler is how a handler asks net/http to drop the
	// connection: it must go through.
	abort := s.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }))
	defer func() {
		if v := recover(); v != http.ErrAbortHandler {
			t.Fatalf("recovered %v, want http.ErrAbortHandler re-panicked", v)
		}
	}()
	serveOnce(abort, httptest.NewRequest("GET", "/", nil))
	t.Fatal("ErrAbortHandler was swallowed")
}

func TestRequireKey(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, tc := range []struct {
		name, key, auth string
		status          int
	}{
		{"no key configured", "", "", http.StatusNoContent},
		{"right key", "k", "Bearer k", http.StatusNoContent},
		{"no header", "k", "", http.StatusUnauthorized},
		{"not bearer", "k", "Basic k", http.StatusUnauthorized},
		{"wrong key", "k", "Bearer x", http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequestWithContext(context.Background(), "DELETE", "/", nil)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := serveOnce(mwServer(t, tc.key).requireKey(ok), r)
			if tc.status == http.StatusNoContent {
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d", w.Code, tc.status)
				}
				return
			}
			wantProblem(t, w, tc.status)
			if tc.status == http.StatusUnauthorized && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}

func TestLogRequests(t *testing.T) {
	for _, tc := range []struct {
		status int
		level  string
	}{
		{http.StatusOK, "INFO"},
		{http.StatusNotFound, "INFO"},
		{http.StatusServiceUnavailable, "WARN"},
	} {
		var buf bytes.Buffer
		s, err := New(Config{backend: newFake("m"), Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
		if err != nil {
			t.Fatal(err)
		}
		h := s.logRequests(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte("abc"))
		}))
		serveOnce(h, httptest.NewRequest("GET", "/x", nil))
		s.Close()
		var line struct {
			Level, Msg, Method, Path string
			Status, Bytes            int
		}
		if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
			t.Fatalf("log %q: %v", buf.String(), err)
		}
		if line.Level != tc.level || line.Msg != "request" || line.Method != "GET" || line.Path != "/x" || line.Status != tc.status || line.Bytes != 3 {
			t.Errorf("status %d logged as %+v", tc.status, line)
		}
	}
}
