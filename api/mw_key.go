package api

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// requireKey guards model management when an API key is configured: no
// key is 401, a wrong one 403.
func (s *Server) requireKey(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.APIKey == "" {
			next.ServeHTTP(w, r)
			return
		}
		auth := r.Header.Get("Authorization")
		key, ok := strings.CutPrefix(auth, "Bearer ")
		if auth == "" || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="lcnet"`)
			s.writeError(w, r, problemf(http.StatusUnauthorized, "this route needs an API key: send Authorization: Bearer KEY"))
			return
		}
		if subtle.ConstantTimeCompare([]byte(strings.TrimSpace(key)), []byte(s.cfg.APIKey)) != 1 {
			s.writeError(w, r, problemf(http.StatusForbidden, "the API key is not valid"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
