package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// sameOrigin refuses a state-changing request (POST, PUT, PATCH, DELETE)
// whose Origin header names another site than the one it was sent to,
// unless that origin is in CORSOrigins. Browsers send Origin on every
// cross-site POST, and a form or fetch in "no-cors" mode needs no
// preflight, so without this any web page a user of a key-less server
// visits could upload or delete models. Clients that are not browsers
// send no Origin and pass.
func (s *Server) sameOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			if origin != "" && !s.corsAllowed(origin) && !ownOrigin(origin, r) {
				s.writeError(w, r, problemf(http.StatusForbidden,
					"cross-origin %s from %q refused: only the server's own pages, or origins given with --cors-origin, may change models", r.Method, origin))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// ownOrigin reports whether origin is the scheme and host r was sent to.
func ownOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Path != "" {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	// Behind a TLS-terminating proxy the page is https and the request
	// arrives as http; the proxy says so.
	if strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return strings.EqualFold(u.Scheme, scheme) &&
		strings.EqualFold(withPort(u.Host, u.Scheme), withPort(r.Host, scheme))
}

// withPort makes a host's default port explicit, so http://h and h:80
// compare equal.
func withPort(host, scheme string) string {
	if _, port, ok := strings.Cut(strings.TrimPrefix(host, "["), "]"); ok {
		if port != "" {
			return host
		}
	} else if strings.Contains(host, ":") {
		return host
	}
	if scheme == "https" {
		return host + ":443"
	}
	return host + ":80"
}

func (s *Server) corsAllowed(origin string) bool {
	return slices.ContainsFunc(s.cfg.CORSOrigins, func(o string) bool {
		return strings.EqualFold(strings.TrimRight(o, "/"), origin)
	})
}

// cors answers preflight requests from CORSOrigins and lets their pages
// read the answers; other origins get no CORS headers, so browsers keep
// their pages from reading anything.
func (s *Server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" || !s.corsAllowed(origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", "Retry-After, X-Request-Id")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
