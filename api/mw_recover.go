package api

import (
	"fmt"
	"net/http"
	"runtime/debug"
)

// recoverer turns a handler panic into a logged 500 problem document.
// chi's middleware.Recoverer answers with an empty 500 and prints the
// stack to stderr; clients of this API expect problem+json on every error
// and operators expect the stack in the structured log.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				s.writeError(w, r, fmt.Errorf("internal error: %v", v))
			}
		}()
		next.ServeHTTP(w, r)
	})
}
