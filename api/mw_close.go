package api

import "net/http"

// closeWhenStopping answers with Connection: close once the server has
// been told to stop, so a keep-alive client opens its next request on a
// new connection (served during the shutdown grace, refused after it)
// instead of sending it on one the drain closes under it, which the
// client sees as a reset.
func (s *Server) closeWhenStopping(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.stopping.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}
