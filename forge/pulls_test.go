package forge_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/forge"
)

// Open pull requests as GitHub and GitLab answer them (trimmed to the
// fields Berth reads, in their documented shapes; Gitea is tested for
// real in the agent's preview tests): the head commit, the ref a fork's
// head is fetched from, the author, and whether it comes from a fork.
func TestOpenPullsWireFormats(t *testing.T) {
	const github = `[
 {"number": 12, "html_url": "https://github.com/acme/config/pull/12", "created_at": "2026-12-01T10:00:00Z",
  "user": {"login": "ana"}, "head": {"ref": "feature", "sha": "aaa111", "repo": {"full_name": "acme/config"}},
  "base": {"ref": "main", "repo": {"full_name": "acme/config"}}},
 {"number": 13, "html_url": "https://github.com/acme/config/pull/13", "created_at": "2026-12-02T10:00:00Z",
  "user": {"login": "outsider"}, "head": {"ref": "evil", "sha": "bbb222", "repo": {"full_name": "outsider/config"}},
  "base": {"ref": "main", "repo": {"full_name": "acme/config"}}},
 {"number": 14, "user": {"login": "gone"}, "head": {"ref": "x", "sha": "ccc333", "repo": null},
  "base": {"ref": "main", "repo": {"full_name": "acme/config"}}}
]`
	const gitlab = `[
 {"iid": 7, "web_url": "https://gitlab.example/acme/config/-/merge_requests/7", "created_at": "2026-12-01T10:00:00Z",
  "sha": "ddd444", "source_branch": "feature", "source_project_id": 5, "target_project_id": 5, "author": {"username": "ana"}},
 {"iid": 8, "sha": "eee555", "source_branch": "evil", "source_project_id": 9, "target_project_id": 5, "author": {"username": "outsider"}}
]`
	serve := func(t *testing.T, wantPath, wantQuery, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			assert.Equal(t, wantPath, r.URL.EscapedPath())
			assert.Contains(t, r.URL.RawQuery, wantQuery)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	t.Run("github", func(t *testing.T) {
		f, err := forge.New(forge.GitHub, serve(t, "/repos/acme/config/pulls", "base=main", github), "acme/config", tokenFile(t))
		require.NoError(t, err)
		pulls, err := f.OpenPulls(context.Background(), "main")
		require.NoError(t, err)
		require.Len(t, pulls, 3)
		assert.Equal(t, forge.OpenPull{Number: 12, HeadSHA: "aaa111", Ref: "refs/pull/12/head", Branch: "feature", Author: "ana",
			URL: "https://github.com/acme/config/pull/12", Created: pulls[0].Created}, pulls[0])
		assert.Equal(t, 2026, pulls[0].Created.Year())
		assert.True(t, pulls[1].Fork, "the head is in another repository")
		assert.True(t, pulls[2].Fork, "a head whose repository is gone counts as a fork")
	})
	t.Run("gitlab", func(t *testing.T) {
		f, err := forge.New(forge.GitLab, serve(t, "/api/v4/projects/acme%2Fconfig/merge_requests", "target_branch=main", gitlab), "acme/config", tokenFile(t))
		require.NoError(t, err)
		pulls, err := f.OpenPulls(context.Background(), "main")
		require.NoError(t, err)
		require.Len(t, pulls, 2)
		assert.Equal(t, 7, pulls[0].Number)
		assert.Equal(t, "ddd444", pulls[0].HeadSHA)
		assert.Equal(t, "refs/merge-requests/7/head", pulls[0].Ref)
		assert.Equal(t, "ana", pulls[0].Author)
		assert.False(t, pulls[0].Fork)
		assert.True(t, pulls[1].Fork)
	})
	t.Run("a forge that answers an error", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom tok-123", 502) }))
		defer srv.Close()
		f, err := forge.New(forge.GitHub, srv.URL, "acme/config", tokenFile(t))
		require.NoError(t, err)
		_, err = f.OpenPulls(context.Background(), "main")
		require.Error(t, err)
		assert.Contains(t, err.Error(), "502")
		assert.NotContains(t, err.Error(), "tok-123", "the token is never in an error")
	})
}
