package docker_test

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/docker"
)

func TestContextTarHonoursDockerignore(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"Dockerfile":        "FROM scratch\n",
		".dockerignore":     "*.secret\nnode_modules\nDockerfile\n",
		"main.go":           "package main\n",
		"keys.secret":       "do not send",
		"node_modules/x.js": "x",
		"sub/ok.txt":        "ok",
	} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
	}
	require.NoError(t, os.Symlink("/etc/passwd", filepath.Join(dir, "link")))
	rc, err := docker.ContextTar(dir, "Dockerfile")
	require.NoError(t, err)
	defer rc.Close()
	var names []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		names = append(names, h.Name)
		if h.Name == "link" {
			assert.Equal(t, byte(tar.TypeSymlink), h.Typeflag, "symlinks are sent as links, not followed")
		}
	}
	sort.Strings(names)
	assert.Equal(t, []string{".dockerignore", "Dockerfile", "link", "main.go", "sub/", "sub/ok.txt"}, names)
}
