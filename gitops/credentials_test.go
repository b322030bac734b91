package gitops_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
)

func TestCredentialsGoWhereTheyBelong(t *testing.T) {
	config := gitops.Credentials{Username: "cfg", PasswordFile: "/etc/berth/config-token"}
	rules := []gitops.CredentialRule{
		{Prefix: "https://git.example.com/", Credentials: gitops.Credentials{Username: "all", PasswordFile: "/all"}},
		{Prefix: "https://git.example.com/team/", Credentials: gitops.Credentials{Username: "team", PasswordFile: "/team"}},
	}
	tests := []struct {
		name, url, want string
	}{
		{"the config repo's origin", "https://config.example.com/other/app.git", "cfg"},
		{"same host, other port", "https://config.example.com:8443/app.git", ""},
		{"other scheme", "http://config.example.com/app.git", ""},
		{"elsewhere", "https://evil.example.net/app.git", ""},
		{"longest prefix wins", "https://git.example.com/team/app.git", "team"},
		{"a shorter prefix", "https://git.example.com/other/app.git", "all"},
		{"a local path", "/srv/git/app", ""},
		{"the scheme in capitals", "HTTPS://git.example.com/team/app.git", "team"},
		{"a longer port is another origin", "http://h:18401/app.git", ""},
		{"the prefix's port", "http://h:1840/app.git", "port"},
		{"a segment that only starts like the prefix", "https://git.example.com/team-evil/app.git", "all"},
		{"a path prefix without its slash", "https://git.example.com/ops-evil/app.git", "all"},
		{"under a path prefix without its slash", "https://git.example.com/ops/app.git", "ops"},
	}
	rules = append(rules,
		gitops.CredentialRule{Prefix: "http://h:1840", Credentials: gitops.Credentials{Username: "port", PasswordFile: "/port"}},
		gitops.CredentialRule{Prefix: "https://git.example.com/ops", Credentials: gitops.Credentials{Username: "ops", PasswordFile: "/ops"}})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := gitops.CredentialsFor(tc.url, "https://config.example.com/ops/config.git", config, rules)
			assert.Equal(t, tc.want, got.Username)
		})
	}
	_, err := gitops.ParseCredentialRule("git.example.com=deploy:/f")
	require.Error(t, err, "the prefix needs its scheme")
	r, err := gitops.ParseCredentialRule("https://git.example.com/=deploy:/etc/berth/token")
	require.NoError(t, err)
	assert.Equal(t, "deploy", r.Username)
	assert.Equal(t, "/etc/berth/token", r.PasswordFile)
}

// TestNoPasswordOverPlainHTTP: basic auth is never sent over plain http to
// a host that is not this machine.
func TestNoPasswordOverPlainHTTP(t *testing.T) {
	var asked atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			asked.Add(1)
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	token := filepath.Join(t.TempDir(), "token")
	require.NoError(t, writeFile(token, "s3cret"))
	// The same server, by a name that is not loopback to the check.
	repo, err := gitops.NewRepo("http://berth-test.invalid/x.git", "main", filepath.Join(t.TempDir(), "r"), gitops.Credentials{PasswordFile: token})
	require.NoError(t, err)
	_, err = repo.Pull(context.Background())
	require.ErrorContains(t, err, "refusing to send a password over plain http")
	assert.Zero(t, asked.Load())
}
