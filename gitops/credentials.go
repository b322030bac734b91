package gitops

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// CredentialRule gives credentials to repos whose URL starts with Prefix
// (--repo-credentials PREFIX=USER:FILE).
type CredentialRule struct {
	Prefix string
	Credentials
}

// ParseCredentialRule reads PREFIX=USER:FILE.
func ParseCredentialRule(s string) (CredentialRule, error) {
	prefix, rest, ok := strings.Cut(s, "=")
	user, file, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || prefix == "" || user == "" || file == "" {
		return CredentialRule{}, fmt.Errorf("--repo-credentials %q: want PREFIX=USER:FILE (https://git.example.com/team/=deploy:/etc/berth/token)", s)
	}
	if !strings.Contains(prefix, "://") {
		return CredentialRule{}, fmt.Errorf("--repo-credentials %q: the prefix must be a URL prefix with its scheme (https://host/...)", s)
	}
	return CredentialRule{Prefix: prefix, Credentials: Credentials{Username: user, PasswordFile: file}}, nil
}

// CredentialsFor picks the credentials of a repo other than the config
// repo: the longest --repo-credentials prefix that matches; else the
// config repo's own, but only for a URL of the same origin (scheme, host
// and port); else none. A commit that names a repo elsewhere never
// receives the config repo's credentials.
func CredentialsFor(repoURL, configURL string, config Credentials, rules []CredentialRule) Credentials {
	best := -1
	for i, r := range rules {
		if underPrefix(repoURL, r.Prefix) && (best < 0 || len(r.Prefix) > len(rules[best].Prefix)) {
			best = i
		}
	}
	if best >= 0 {
		return rules[best].Credentials
	}
	if origin(repoURL) != "" && origin(repoURL) == origin(configURL) {
		return config
	}
	return Credentials{}
}

// underPrefix reports whether a repo URL is under a --repo-credentials
// prefix: the same origin (scheme, host and port, compared as URLs, so
// http://h:1840 is not http://h:18401), and the prefix's path as whole
// segments of the URL's path (team/ is not team-evil/).
func underPrefix(repoURL, prefix string) bool {
	if origin(repoURL) == "" || origin(repoURL) != origin(prefix) {
		return false
	}
	rp, pp := urlPath(repoURL), urlPath(prefix)
	if pp == "" || pp == "/" {
		return true
	}
	if strings.HasSuffix(pp, "/") {
		return strings.HasPrefix(rp, pp)
	}
	return rp == pp || strings.HasPrefix(rp, pp+"/")
}

func urlPath(raw string) string {
	if scpLike.MatchString(raw) && !strings.Contains(raw, "://") {
		return "/" + raw[strings.IndexByte(raw, ':')+1:]
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Path
}

// origin is scheme://host:port of a URL ("" for a local path); scp-style
// git@host:path is ssh://host:22.
func origin(raw string) string {
	if scpLike.MatchString(raw) && !strings.Contains(raw, "://") {
		host := raw[strings.IndexByte(raw, '@')+1 : strings.IndexByte(raw, ':')]
		return "ssh://" + host + ":22"
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "ssh": "22", "git": "9418"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// loopback reports whether a URL's host is this machine.
func loopback(u *url.URL) bool {
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
