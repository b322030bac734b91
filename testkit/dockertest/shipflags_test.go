package dockertest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tests build berth exactly as scripts/build ships it.
func TestShipFlagsComeFromScriptsBuild(t *testing.T) {
	flags, err := ShipFlags("../..")
	require.NoError(t, err)
	assert.Equal(t, []string{"-trimpath", "-ldflags", "-s -w", "-tags", "nobadger,nobbolt,nomysql,nopgx"}, flags)
	assert.NotContains(t, flags, "all=-l", "no flag trades speed for size (inlining stays on)")
}
