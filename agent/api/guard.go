package api

import (
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// guard wraps the API against a browser being used as a proxy: a Host
// header this agent does not answer to (DNS rebinding) is refused, and so
// is an unsafe request (POST, …) from a page of another origin (CSRF).
// Requests without Origin (curl, the CLI) are not affected by the latter.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.knownHost(r.Host) {
			http.Error(w, "unknown Host "+r.Host+": this agent answers to localhost, IP addresses and --api-host names", http.StatusForbidden)
			return
		}
		if unsafeMethod(r.Method) && crossOrigin(r) {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// knownHost reports whether the API answers to host: localhost, an IP
// address (a rebinding page cannot make a browser send one for its own
// origin), the listen address, or an --api-host name.
func (s *Server) knownHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "localhost" || net.ParseIP(host) != nil {
		return true
	}
	if lh, _, err := net.SplitHostPort(s.opts.Listen); err == nil && strings.EqualFold(lh, host) {
		return true
	}
	return slices.ContainsFunc(s.opts.APIHosts, func(h string) bool { return strings.EqualFold(h, host) })
}

func unsafeMethod(m string) bool {
	return m != http.MethodGet && m != http.MethodHead && m != http.MethodOptions
}

// crossOrigin reports whether a browser sent the request from a page of
// another origin.
func crossOrigin(r *http.Request) bool {
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	u, err := url.Parse(origin)
	return err != nil || !strings.EqualFold(u.Host, r.Host)
}

// Loopback reports whether a listen address only accepts connections from
// this machine.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
