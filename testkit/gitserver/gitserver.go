// Package gitserver runs a real git smart-HTTP server for tests:
// git-http-backend behind net/http/cgi, pushed to with the git CLI.
package gitserver

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Server is a git smart-HTTP server on 127.0.0.1.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	root string
	// Password, when set, is required as the basic-auth password.
	password string
	// readOnly, when set, is a password that reads but may not push (a
	// forge token without write access): 403 on receive-pack.
	readOnly string
}

// Option configures a Server.
type Option func(*Server)

// WithPassword makes the server require basic auth with this password.
func WithPassword(pw string) Option { return func(s *Server) { s.password = pw } }

// WithReadOnlyPassword adds a password that may fetch but not push.
func WithReadOnlyPassword(pw string) Option { return func(s *Server) { s.readOnly = pw } }

// Start runs a server until the test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	out, err := exec.Command("git", "--exec-path").Output()
	if err != nil {
		t.Fatalf("git --exec-path: %v", err)
	}
	s := &Server{root: t.TempDir()}
	for _, o := range opts {
		o(s)
	}
	backend := &cgi.Handler{
		Path: filepath.Join(strings.TrimSpace(string(out)), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + s.root, "GIT_HTTP_EXPORT_ALL=1", "REMOTE_USER=berth-test"},
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.password != "" || s.readOnly != "" {
			_, pw, ok := r.BasicAuth()
			switch {
			case ok && pw != "" && pw == s.readOnly:
				if strings.Contains(r.URL.Path, "git-receive-pack") || r.URL.Query().Get("service") == "git-receive-pack" {
					http.Error(w, "this token may not push", http.StatusForbidden)
					return
				}
			case !ok || pw != s.password:
				w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
		}
		// net/http/cgi refuses chunked bodies, which git sends for pushes
		// over 1 MiB: buffer the body and give it a length.
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.TransferEncoding = nil
		backend.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Repo is a bare repo on the server and a working clone to push from.
type Repo struct {
	t   testing.TB
	URL string // clone URL
	Dir string // working clone
}

// NewRepo creates name.git on the server and a working clone of it.
func (s *Server) NewRepo(t testing.TB, name string) *Repo {
	t.Helper()
	bare := filepath.Join(s.root, name+".git")
	Git(t, "", "init", "-q", "--bare", "-b", "main", bare)
	Git(t, bare, "config", "http.receivepack", "true")
	r := &Repo{t: t, URL: s.URL + "/" + name + ".git", Dir: t.TempDir()}
	Git(t, r.Dir, "init", "-q", "-b", "main")
	pushURL := r.URL
	if s.password != "" {
		pushURL = strings.Replace(r.URL, "http://", "http://git:"+s.password+"@", 1)
	}
	Git(t, r.Dir, "remote", "add", "origin", pushURL)
	return r
}

// Write writes a file (creating folders) in the working clone.
func (r *Repo) Write(path, content string) *Repo {
	r.t.Helper()
	full := filepath.Join(r.Dir, path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
	return r
}

// Remove deletes a file or folder from the working clone.
func (r *Repo) Remove(path string) *Repo {
	r.t.Helper()
	if err := os.RemoveAll(filepath.Join(r.Dir, path)); err != nil {
		r.t.Fatal(err)
	}
	return r
}

// Push commits everything and pushes to main; it returns the commit.
func (r *Repo) Push(msg string) string {
	r.t.Helper()
	Git(r.t, r.Dir, "add", "-A")
	Git(r.t, r.Dir, "-c", "user.name=Berth Test", "-c", "user.email=test@berth.invalid", "commit", "-q", "--allow-empty", "-m", msg)
	Git(r.t, r.Dir, "push", "-q", "origin", "HEAD:main")
	return strings.TrimSpace(Git(r.t, r.Dir, "rev-parse", "HEAD"))
}

// Git runs the git CLI in dir and returns its output; it fails the test on
// error.
func Git(t testing.TB, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Write writes a file, creating folders, failing the test on error.
func Write(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
