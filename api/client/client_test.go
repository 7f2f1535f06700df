package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The client against the real server is tested in package api; these
// cases are the answers a server of any version may give.
func TestProblemError(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		retryAfter              string
		want                    Problem
	}{
		{"problem document", "application/problem+json",
			`{"type":"about:blank","title":"Not Found","status":404,"detail":"model \"x\" not found"}`, 404, "",
			Problem{Type: "about:blank", Title: "Not Found", Status: 404, Detail: `model "x" not found`}},
		{"plain text from a proxy", "text/plain", "upstream down\n", 502, "",
			Problem{Title: "Bad Gateway", Status: 502, Detail: "upstream down"}},
		{"queue full", "application/problem+json",
			`{"title":"Too Many Requests","status":429,"detail":"queue full"}`, 429, "1",
			Problem{Title: "Too Many Requests", Status: 429, Detail: "queue full"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer ts.Close()
			c, err := New(ts.URL, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Models(context.Background())
			var pe *ProblemError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a *ProblemError", err)
			}
			if pe.Type != tc.want.Type || pe.Title != tc.want.Title || pe.Status != tc.want.Status || pe.Detail != tc.want.Detail || pe.RetryAfter != tc.retryAfter {
				t.Fatalf("got %+v (Retry-After %q), want %+v (%q)", pe.Problem, pe.RetryAfter, tc.want, tc.retryAfter)
			}
		})
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"localhost:8080", "ftp://h", "http://", "://x"} {
		if _, err := New(u, nil); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	if _, err := New("https://h:8080/", nil); err != nil {
		t.Errorf("New(https://h:8080/): %v", err)
	}
}
