// Package giteatest runs a real Gitea (built from its module source by
// scripts/gitea) on 127.0.0.1 for commit-status tests.
package giteatest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Binary is where scripts/gitea installs Gitea.
func Binary() string {
	if b := os.Getenv("GITEA_BIN"); b != "" {
		return b
	}
	return "/usr/local/bin/gitea-1.26.0"
}

// Gitea is a running Gitea with an admin user and an API token.
type Gitea struct {
	URL   string // http://127.0.0.1:PORT
	User  string
	Token string
}

// Start runs Gitea until the test ends. Without the binary the test is
// skipped, except in CI, where it fails.
func Start(t testing.TB) *Gitea {
	t.Helper()
	bin := Binary()
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("gitea is required in CI (scripts/gitea builds it): %v", err)
		}
		t.Skipf("no gitea at %s (run scripts/gitea)", bin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	ini := writeConfig(t, dir, bin, port)
	env := append(os.Environ(), "GITEA_WORK_DIR="+dir, "GITEA_I_AM_BEING_UNSAFE_RUNNING_AS_ROOT=true", "HOME="+dir)
	run := func(args ...string) string {
		cmd := exec.Command(bin, append(args, "-c", ini)...)
		cmd.Env, cmd.Dir = env, dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("gitea %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("migrate")
	run("admin", "user", "create", "--admin", "--username", "berth", "--password", "berth-Passw0rd!", "--email", "berth@berth.invalid", "--must-change-password=false")
	token := strings.TrimSpace(run("admin", "user", "generate-access-token", "--username", "berth", "--token-name", "tests", "--scopes", "all", "--raw"))
	lines := strings.Split(token, "\n")
	token = strings.TrimSpace(lines[len(lines)-1])
	web := exec.Command(bin, "web", "-c", ini)
	web.Env, web.Dir = env, dir
	var logs bytes.Buffer
	web.Stdout, web.Stderr = &logs, &logs
	if err := web.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = web.Process.Kill(); _ = web.Wait() })
	g := &Gitea{URL: fmt.Sprintf("http://127.0.0.1:%d", port), User: "berth", Token: token}
	for range 300 { // bounded: 30 s
		if resp, err := http.Get(g.URL + "/api/v1/version"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return g
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("gitea did not come up:\n%s", logs.String())
	return nil
}

// writeConfig writes Gitea's app.ini for a throwaway instance in dir.
func writeConfig(t testing.TB, dir, bin string, port int) string {
	t.Helper()
	ini := filepath.Join(dir, "app.ini")
	cfg := fmt.Sprintf(`APP_NAME = berth-test
RUN_MODE = prod
RUN_USER = %s
WORK_PATH = %s
[database]
DB_TYPE = sqlite3
PATH = %s/gitea.db
[server]
STATIC_ROOT_PATH = %s
HTTP_ADDR = 127.0.0.1
HTTP_PORT = %d
ROOT_URL = http://127.0.0.1:%d/
DISABLE_SSH = true
OFFLINE_MODE = true
LFS_START_SERVER = false
[security]
INSTALL_LOCK = true
[service]
DISABLE_REGISTRATION = true
[repository]
ROOT = %s/repos
DEFAULT_BRANCH = main
[log]
MODE = console
LEVEL = error
[indexer]
REPO_INDEXER_ENABLED = false
[webhook]
ALLOWED_HOST_LIST = loopback
DELIVER_TIMEOUT = 10
`, currentUser(), dir, dir, bin+".static", port, port, dir)
	if err := os.WriteFile(ini, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return ini
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "root"
}

// API calls the Gitea API with the admin token and decodes the answer.
func (g *Gitea) API(t testing.TB, method, path string, body, out any) {
	t.Helper()
	g.APIAs(t, "", method, path, body, out)
}

// APIAs is API acting as another user (the admin's Sudo), or as the
// admin when user is "".
func (g *Gitea) APIAs(t testing.TB, user, method, path string, body, out any) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequest(method, g.URL+"/api/v1"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+g.Token)
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("Sudo", user)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		t.Fatalf("gitea %s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// CreateRepo makes an empty repo owned by the admin and returns its clone
// URL with the token in it (for the git CLI).
func (g *Gitea) CreateRepo(t testing.TB, name string) (cloneURL, pushURL string) {
	t.Helper()
	g.API(t, http.MethodPost, "/user/repos", map[string]any{"name": name, "default_branch": "main"}, nil)
	cloneURL = fmt.Sprintf("%s/%s/%s.git", g.URL, g.User, name)
	pushURL = strings.Replace(cloneURL, "http://", fmt.Sprintf("http://%s:%s@", g.User, g.Token), 1)
	return cloneURL, pushURL
}
