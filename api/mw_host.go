package api

import (
	"net"
	"net/http"
	"slices"
	"strings"
)

// checkHost defeats DNS rebinding: a page on evil.example whose name its
// attacker re-points to 127.0.0.1 reaches a server on loopback as "same
// origin", but its requests still say Host: evil.example. A server bound
// to loopback therefore answers only Host localhost, 127.0.0.1, [::1],
// its listen address or one of AllowedHosts, and 421 to any other; one
// bound elsewhere checks Host only when AllowedHosts are given.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.hostAllowed(r.Host) {
			s.writeError(w, r, problemf(http.StatusMisdirectedRequest,
				"Host %q is not this server's: a server on loopback answers localhost, 127.0.0.1 and [::1]; add names with --allowed-host", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) hostAllowed(host string) bool {
	listen := s.listen.Load()
	loopback := listen != nil && listen.IP.IsLoopback()
	// No browser sends an empty Host (HTTP/1.0 clients and in-process
	// calls do), so it cannot be a rebinding.
	if host == "" || (!loopback && len(s.cfg.AllowedHosts) == 0) {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.TrimSuffix(strings.Trim(name, "[]"), ".")
	switch strings.ToLower(name) {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	if listen != nil && (host == listen.String() || name == listen.IP.String()) {
		return true
	}
	return slices.ContainsFunc(s.cfg.AllowedHosts, func(a string) bool {
		return strings.EqualFold(a, host) || strings.EqualFold(a, name)
	})
}
