package dockertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker/docker/api/types/registry"
	"github.com/docker/docker/pkg/jsonmessage"
	"golang.org/x/crypto/bcrypt"

	"github.com/docker/docker/api/types/image"
)

// Registry runs Debian's docker-registry on a free 127.0.0.1 port with
// filesystem storage until the test ends, and returns its host:port.
// Docker treats 127.0.0.0/8 as insecure, so plain HTTP push and pull work.
func Registry(t testing.TB) string {
	t.Helper()
	return startRegistry(t, "")
}

// RegistryWithLogin runs a registry that asks for user and password
// (htpasswd, bcrypt), and returns its address.
func RegistryWithLogin(t testing.TB, user, password string) string {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "htpasswd")
	if err := os.WriteFile(file, []byte(user+":"+string(hash)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startRegistry(t, fmt.Sprintf("auth:\n  htpasswd:\n    realm: berth-test\n    path: %s\n", file))
}

func startRegistry(t testing.TB, extra string) string {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("docker-registry is required in CI (scripts/deps installs it)")
		}
		t.Skip("no docker-registry (apt-get install docker-registry)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.yml")
	body := fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n%s", filepath.Join(dir, "data"), addr, extra)
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfg)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for range 100 {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			return addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("docker-registry did not come up")
	return ""
}

// Push tags local as remote, pushes it, and removes the local tag of
// remote (so the next use must pull it).
func Push(t testing.TB, local, remote string) {
	t.Helper()
	PushWithLogin(t, local, remote, "", "")
}

// PushWithLogin is Push with a registry login ("" for none).
func PushWithLogin(t testing.TB, local, remote, user, password string) {
	t.Helper()
	cli := raw(t)
	ctx := context.Background()
	if err := cli.ImageTag(ctx, local, remote); err != nil {
		t.Fatal(err)
	}
	auth, _ := json.Marshal(registry.AuthConfig{Username: user, Password: password})
	rc, err := cli.ImagePush(ctx, remote, image.PushOptions{RegistryAuth: base64.URLEncoding.EncodeToString(auth)})
	if err != nil {
		t.Fatalf("pushing %s: %v", remote, err)
	}
	var out bytes.Buffer
	err = jsonmessage.DisplayJSONMessagesStream(rc, &out, 0, false, nil)
	rc.Close()
	if err != nil {
		t.Fatalf("pushing %s: %v\n%s", remote, err, out.String())
	}
	if _, err := cli.ImageRemove(ctx, remote, image.RemoveOptions{}); err != nil {
		t.Fatalf("untagging %s after push: %v\n%s", remote, err, out.String())
	}
}
