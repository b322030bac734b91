package gitops_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
)

// The desired hashes of examples/hello are pinned: a change to Berth that
// moves the hash of a workload file that did not change would redeploy
// every workload on every host at the upgrade. A new field that a file
// does not use must leave its hash alone. (Regenerate with -update only
// when the example's files themselves change.)
func TestExampleHashesArePinned(t *testing.T) {
	// A copy with the modes git writes under the usual umask (022): the
	// folder hashes include modes, and a checkout's depend on its umask.
	dir := t.TempDir()
	require.NoError(t, filepath.WalkDir("../examples/hello", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../examples/hello", p)
		to := filepath.Join(dir, rel)
		if e.IsDir() {
			if err := os.MkdirAll(to, 0o755); err != nil {
				return err
			}
			return os.Chmod(to, 0o755)
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if info.Mode()&0o100 != 0 {
			mode = 0o755
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(to, b, mode); err != nil {
			return err
		}
		return os.Chmod(to, mode)
	}))
	d, err := gitops.Load(dir, "")
	require.NoError(t, err)
	require.Empty(t, d.Invalid)
	var b strings.Builder
	for _, w := range d.Workloads {
		fmt.Fprintf(&b, "%s %s\n", w.ID(), w.Hash)
	}
	const golden = "testdata/example-hashes.golden"
	if *update {
		require.NoError(t, os.WriteFile(golden, []byte(b.String()), 0o644))
	}
	want, err := os.ReadFile(golden)
	require.NoError(t, err)
	assert.Equal(t, string(want), b.String(), "a desired hash moved: every host would redeploy at the upgrade")
}
