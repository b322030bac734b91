package gitops_test

import (
	"fmt"
	"os"
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
	d, err := gitops.Load("../examples/hello", "")
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
