package forge_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/forge"
	"github.com/berthops/berth/gitops"
)

// fakeForge speaks the documented wire format of GitHub's and GitLab's
// commit-status APIs (they cannot run here), and can fail on demand.
type fakeForge struct {
	mu       sync.Mutex
	got      []map[string]string
	failures []int // status codes to answer before succeeding
}

func (f *fakeForge) handler(t *testing.T, kind string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if len(f.failures) > 0 {
			code := f.failures[0]
			f.failures = f.failures[1:]
			if code == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "0")
			}
			http.Error(w, `{"message":"nope"}`, code)
			return
		}
		rec := map[string]string{"path": r.URL.Path}
		switch kind {
		case "github":
			assert.Equal(t, "Bearer tok-123", r.Header.Get("Authorization"))
			var body map[string]string
			assert.NoError(t, json.NewDecoder(r.Body).Decode(&body))
			for k, v := range body {
				rec[k] = v
			}
		case "gitlab":
			assert.Equal(t, "tok-123", r.Header.Get("PRIVATE-TOKEN"))
			rec["raw"] = r.URL.RawPath
			for k := range r.URL.Query() {
				rec[k] = r.URL.Query().Get(k)
			}
		}
		f.got = append(f.got, rec)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":1}`))
	})
}

func tokenFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(p, []byte("tok-123\n"), 0o600))
	return p
}

func TestForgeWireFormats(t *testing.T) {
	st := forge.Status{SHA: "abc123", Context: "berth/host-a/shop/web", State: forge.Pending, Description: "deploying"}
	t.Run("github", func(t *testing.T) {
		fake := &fakeForge{}
		srv := httptest.NewServer(fake.handler(t, "github"))
		defer srv.Close()
		f, err := forge.New(forge.GitHub, srv.URL, "acme/config", tokenFile(t))
		require.NoError(t, err)
		require.NoError(t, f.Post(context.Background(), st))
		require.Len(t, fake.got, 1)
		assert.Equal(t, map[string]string{"path": "/repos/acme/config/statuses/abc123", "state": "pending", "context": "berth/host-a/shop/web", "description": "deploying"}, fake.got[0])
	})
	t.Run("gitlab", func(t *testing.T) {
		fake := &fakeForge{}
		srv := httptest.NewServer(fake.handler(t, "gitlab"))
		defer srv.Close()
		f, err := forge.New(forge.GitLab, srv.URL, "acme/config", tokenFile(t))
		require.NoError(t, err)
		require.NoError(t, f.Post(context.Background(), st))
		require.Len(t, fake.got, 1)
		assert.Equal(t, "/api/v4/projects/acme%2Fconfig/statuses/abc123", fake.got[0]["raw"])
		assert.Equal(t, "running", fake.got[0]["state"], "GitLab's word for pending work")
		assert.Equal(t, "berth/host-a/shop/web", fake.got[0]["name"])
	})
	t.Run("a preview's link", func(t *testing.T) {
		preview := forge.Status{SHA: "abc123", Context: "berth/preview", State: forge.Success, Description: "preview is up", URL: "http://pr-12.preview.example.com/"}
		for _, kind := range []string{forge.GitHub, forge.GitLab} {
			fake := &fakeForge{}
			srv := httptest.NewServer(fake.handler(t, kind))
			f, err := forge.New(kind, srv.URL, "acme/config", tokenFile(t))
			require.NoError(t, err)
			require.NoError(t, f.Post(context.Background(), preview))
			srv.Close()
			require.Len(t, fake.got, 1)
			assert.Equal(t, "http://pr-12.preview.example.com/", fake.got[0]["target_url"], kind)
		}
	})
	t.Run("retries 500 and 429, not 401", func(t *testing.T) {
		fake := &fakeForge{failures: []int{500, 429}}
		srv := httptest.NewServer(fake.handler(t, "github"))
		defer srv.Close()
		f, err := forge.New(forge.GitHub, srv.URL, "acme/config", tokenFile(t))
		require.NoError(t, err)
		f.Backoff = 10 * time.Millisecond
		require.NoError(t, f.Post(context.Background(), st))
		assert.Len(t, fake.got, 1)

		fake.failures = []int{401}
		err = f.Post(context.Background(), st)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "401")
		assert.NotContains(t, err.Error(), "tok-123")
		assert.Len(t, fake.got, 1, "a 401 is not retried")

		fake.failures = []int{500, 500, 500, 500, 500}
		require.Error(t, f.Post(context.Background(), st), "bounded retries")
	})
	t.Run("bad settings", func(t *testing.T) {
		_, err := forge.New("bitbucket", "http://x", "a/b", tokenFile(t))
		require.Error(t, err)
		_, err = forge.New(forge.Gitea, "http://x", "a/b", "/nonexistent/token")
		require.ErrorContains(t, err, "forge token file")
	})
	assert.Equal(t, "acme/config", gitops.RepoFromURL("https://git.example.com/acme/config.git"))
	assert.Equal(t, "acme/config", gitops.RepoFromURL("git@github.com:acme/config.git"))
}

// TestRetryAfterIsCappedByTheDeadline: a forge that asks to wait ten
// minutes does not stall the post past its deadline.
func TestRetryAfterIsCappedByTheDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	t.Cleanup(srv.Close)
	f, err := forge.New(forge.GitHub, srv.URL, "acme/config", tokenFile(t))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err = f.Post(ctx, forge.Status{SHA: "abc", Context: "berth/a/b/c", State: forge.Pending})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "past the deadline", "it gave up instead of sleeping into the deadline")
	assert.NoError(t, ctx.Err(), "before the deadline")
}
