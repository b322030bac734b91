// Package caddytest runs Debian's caddy binary for tests of the admin-API
// driver: a Caddy that Berth did not start.
package caddytest

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/berthops/berth/testkit/loopback"
)

// Start runs caddy with its admin API on a free port and the config cfg
// renders for that address (nil: the admin API only). It returns the admin
// API's base URL; the process is killed when the test ends. Without a
// caddy binary the test is skipped (failed in CI).
func Start(t testing.TB, cfg func(admin string) map[string]any) string {
	t.Helper()
	bin, err := exec.LookPath("caddy")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("caddy is required in CI (apt-get install caddy)")
		}
		t.Skip("no caddy binary (apt-get install caddy)")
	}
	admin := loopback.FreeAddr(t)
	doc := map[string]any{"admin": map[string]any{"listen": admin}}
	if cfg != nil {
		doc = cfg(admin)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "caddy.json")
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", file)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for range 100 {
		if resp, err := http.Get("http://" + admin + "/config/"); err == nil {
			_ = resp.Body.Close()
			return "http://" + admin
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("caddy admin API did not come up")
	return ""
}

// Config returns the config the Caddy at admin runs, as JSON text.
func Config(t testing.TB, admin string) string {
	t.Helper()
	resp, err := http.Get(admin + "/config/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
