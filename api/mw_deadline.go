package api

import (
	"context"
	"net/http"
	"time"
)

// deadline gives every request a context deadline, the connection a read
// deadline, so a client that sends its body slowly cannot hold a handler
// past it either, and a write deadline write later, so neither can one that
// never reads its answer: the blocked write fails, the handler returns and
// its memory is freed. chi's middleware.Timeout sets only the context and
// writes its own 504 after the handler; here the handler's error (503
// problem+json with Retry-After) is the answer.
func deadline(d, write time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			now := time.Now()
			// Not every ResponseWriter supports them (httptest's recorder).
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(now.Add(d))
			_ = rc.SetWriteDeadline(now.Add(d + write))
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
