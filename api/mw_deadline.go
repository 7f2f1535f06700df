package api

import (
	"context"
	"net/http"
	"time"
)

// deadline gives every request a context deadline, and the connection a
// read deadline, so a client that sends its body slowly cannot hold a
// handler past it either. chi's middleware.Timeout sets only the context
// and writes its own 504 after the handler; here the handler's error
// (503 problem+json with Retry-After) is the answer.
func deadline(d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Not every ResponseWriter supports it (httptest's recorder).
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
