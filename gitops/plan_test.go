package gitops_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/testkit/gitserver"
)

// planRepo makes a local repo with a base and a head commit. Dates and
// author are fixed, so the commit hashes in the golden files are stable.
func planRepo(t *testing.T) string {
	t.Helper()
	for k, v := range map[string]string{
		"GIT_AUTHOR_NAME": "Berth Test", "GIT_AUTHOR_EMAIL": "test@berth.invalid",
		"GIT_COMMITTER_NAME": "Berth Test", "GIT_COMMITTER_EMAIL": "test@berth.invalid",
		"GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z", "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z",
	} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	write := func(files map[string]string) {
		for name, body := range files {
			p := filepath.Join(dir, name)
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		}
	}
	commit := func(msg string) {
		gitserver.Git(t, dir, "add", "-A")
		gitserver.Git(t, dir, "commit", "-q", "-m", msg)
	}
	gitserver.Git(t, dir, "init", "-q", "-b", "main")
	write(map[string]string{
		"apps/shop/web.yaml":            "source:\n  type: image\n  image: shop/web:1.4.1\n  deploy_strategy: recreate\nenv:\n  LOG_LEVEL: info\nport: 8080\n",
		"apps/shop/worker.yaml":         "source:\n  type: image\n  image: shop/worker:2\nenv:\n  QUEUE: jobs\n",
		"apps/old/api.yaml":             "source:\n  type: image\n  image: old/api:1\n",
		"apps/shop/secrets/API_KEY.age": "age-encryption.org/v1\none\n",
		"secrets/OLD.age":               "age-encryption.org/v1\nold\n",
	})
	commit("base")
	require.NoError(t, os.Remove(filepath.Join(dir, "apps/old/api.yaml")))
	require.NoError(t, os.Remove(filepath.Join(dir, "secrets/OLD.age")))
	write(map[string]string{
		"apps/shop/web.yaml":            "source:\n  type: image\n  image: shop/web:1.4.2\nenv:\n  LOG_LEVEL: debug\nport: 8080\nroute:\n  hosts: [shop.example.com]\n",
		"apps/blog/site.yaml":           "source:\n  type: static\n  dir: app\n  runtime: deno\n  storage: /data\n  deploy_strategy: blue-green\n",
		"apps/blog/app/main.ts":         "Deno.serve(() => new Response('hi'))\n",
		"apps/shop/secrets/API_KEY.age": "age-encryption.org/v1\ntwo\n",
		"secrets/TOKEN.age":             "age-encryption.org/v1\nnew\n",
		"README.md":                     "unrelated\n",
	})
	commit("head")
	return dir
}

func TestPlanGolden(t *testing.T) {
	dir := planRepo(t)
	base, baseSHA, err := gitops.LoadRevision(dir, "HEAD~1", "", gitops.LoadOptions{})
	require.NoError(t, err)
	head, headSHA, err := gitops.LoadRevision(dir, "main", "", gitops.LoadOptions{})
	require.NoError(t, err)
	p := gitops.NewPlan(base, head, baseSHA, headSHA)
	require.True(t, p.Changed())
	assert.Equal(t, "shop/web", p.Workloads[0].ID, "strategy changes come first")

	for _, f := range []struct {
		name   string
		render func(*bytes.Buffer) error
	}{
		{"plan.txt", func(b *bytes.Buffer) error { return p.WriteText(b) }},
		{"plan.md", func(b *bytes.Buffer) error { return p.WriteMarkdown(b) }},
		{"plan.json", func(b *bytes.Buffer) error { return p.WriteJSON(b) }},
	} {
		t.Run(f.name, func(t *testing.T) {
			var b bytes.Buffer
			require.NoError(t, f.render(&b))
			golden := filepath.Join("testdata", "plan", f.name)
			if *update {
				require.NoError(t, os.WriteFile(golden, b.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err)
			assert.Equal(t, string(want), b.String())
		})
	}

	same := gitops.NewPlan(head, head, headSHA, headSHA)
	assert.False(t, same.Changed())

	_, _, err = gitops.LoadRevision(dir, "no-such-branch", "", gitops.LoadOptions{})
	require.ErrorIs(t, err, gitops.ErrRevisionNotFound)
}
