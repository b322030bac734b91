package compose

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func release(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	return dir
}

func TestRenderInterpolatesOnlyTheWorkloadsVariables(t *testing.T) {
	t.Setenv("BERTH_CANARY_AGENT_ENV", "agent-secret")
	dir := release(t, map[string]string{
		"compose.yml": "services:\n  web:\n    image: app:${TAG}\n    environment:\n      A: ${BERTH_CANARY_AGENT_ENV:-none}\n      B: $$literal\n",
		".env":        "TAG=from-dotenv\n",
	})
	p, err := Render(context.Background(), dir, "compose.yml", "proj", map[string]string{"TAG": "1.2"})
	require.NoError(t, err)
	web := p.Services["web"]
	assert.Equal(t, "app:1.2", web.Image, "the workload's variable, not the .env beside the file")
	assert.Equal(t, "none", *web.Environment["A"], "the agent's environment is never interpolated")
	assert.Equal(t, "$literal", *web.Environment["B"])
	assert.Equal(t, "proj", p.Name)
}

func TestRenderReadsOnlyInsideTheRelease(t *testing.T) {
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "x.yml"), []byte("services:\n  evil:\n    image: x\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "host.env"), []byte("SECRET=host\n"), 0o644))
	tests := []struct {
		name  string
		files map[string]string
		link  string // a symlink "sub/link" to outside, when set
		want  string // "" renders
	}{
		{"include inside", map[string]string{"compose.yml": "include:\n  - sub/more.yml\nservices:\n  web:\n    image: x\n", "sub/more.yml": "services:\n  db:\n    image: y\n"}, "", ""},
		{"a file of only includes", map[string]string{"compose.yml": "include:\n  - sub/more.yml\n", "sub/more.yml": "services:\n  db:\n    image: y\n"}, "", ""},
		{"include outside", map[string]string{"compose.yml": "include:\n  - " + filepath.Join(outside, "x.yml") + "\n"}, "", "include.0.path"},
		{"include through ..", map[string]string{"compose.yml": "include:\n  - ../" + filepath.Base(outside) + "/x.yml\n"}, "", "include.0.path"},
		{"include through a symlink", map[string]string{"compose.yml": "include:\n  - sub/link/x.yml\n"}, "sub/link", "include.0.path"},
		{"remote include", map[string]string{"compose.yml": "include:\n  - https://example.com/x.yml\n"}, "", "remote resource"},
		{"interpolated include", map[string]string{"compose.yml": "include:\n  - ${F:-x.yml}\n"}, "", "interpolated"},
		{"include env_file outside", map[string]string{"compose.yml": "include:\n  - path: sub/more.yml\n    env_file: " + filepath.Join(outside, "host.env") + "\n", "sub/more.yml": "services:\n  db:\n    image: y\n"}, "", "include.0.env_file"},
		{"include project_directory outside", map[string]string{"compose.yml": "include:\n  - path: sub/more.yml\n    project_directory: " + outside + "\n", "sub/more.yml": "services:\n  db:\n    image: y\n"}, "", "project_directory"},
		{"env_file outside", map[string]string{"compose.yml": "services:\n  web:\n    image: x\n    env_file: " + filepath.Join(outside, "host.env") + "\n"}, "", "services.web.env_file"},
		{"env_file as a path entry", map[string]string{"compose.yml": "services:\n  web:\n    image: x\n    env_file:\n      - path: " + filepath.Join(outside, "host.env") + "\n"}, "", "services.web.env_file"},
		{"env_file inside", map[string]string{"compose.yml": "services:\n  web:\n    image: x\n    env_file: app.env\n", "app.env": "A=1\n"}, "", ""},
		{"extends outside", map[string]string{"compose.yml": "services:\n  web:\n    extends:\n      file: " + filepath.Join(outside, "x.yml") + "\n      service: evil\n"}, "", "extends.file"},
		{"remote extends", map[string]string{"compose.yml": "services:\n  web:\n    extends:\n      file: https://example.com/x.yml\n      service: evil\n"}, "", "remote resource"},
		{"merge keys and anchors", map[string]string{"compose.yml": "x-base: &base\n  image: x\nservices:\n  web:\n    <<: *base\n"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := release(t, tt.files)
			if tt.link != "" {
				require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, tt.link)), 0o755))
				require.NoError(t, os.Symlink(outside, filepath.Join(dir, tt.link)))
			}
			_, err := Render(context.Background(), dir, "compose.yml", "proj", nil)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// TestRenderRefusesAnAliasBomb: a few hundred bytes of nested aliases
// expand to billions of nodes; the file is refused at once.
func TestRenderRefusesAnAliasBomb(t *testing.T) {
	bomb := "x-a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		bomb += "x-" + n + ": &" + n + " [" + strings.Repeat("*"+prev+",", 8) + "*" + prev + "]\n"
		prev = n
	}
	dir := release(t, map[string]string{"compose.yml": bomb + "services:\n  web:\n    image: x\n"})
	_, err := Render(context.Background(), dir, "compose.yml", "p", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "excessive aliasing")
}
