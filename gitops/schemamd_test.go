package gitops_test

import (
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
)

// docs/configuration.md is what SchemaMarkdown makes of the Go types: a
// field added, renamed or documented differently fails here until the
// reference is regenerated (go test ./gitops -update, or berth schema
// --markdown > docs/configuration.md).
func TestConfigurationReferenceIsCurrent(t *testing.T) {
	md, err := gitops.SchemaMarkdown()
	require.NoError(t, err)
	const path = "../docs/configuration.md"
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(md), 0o644))
	}
	have, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, md, string(have), "docs/configuration.md is stale: go test ./gitops -run TestConfigurationReferenceIsCurrent -update")
	for _, field := range []string{"`source.deploy_strategy`", "`route.hosts`", "`notifications[].url_secret`", "`placement.labels`"} {
		assert.Contains(t, md, field)
	}
}

// Every field of every config file has a description: editors show it,
// and the reference would have an empty cell.
func TestEveryFieldIsDescribed(t *testing.T) {
	md, err := gitops.SchemaMarkdown()
	require.NoError(t, err)
	for _, line := range splitLines(md) {
		if len(line) > 2 && line[:2] == "| " && line != "| field | type | |" {
			assert.NotRegexp(t, `\|\s*\|$`, line, "a field without a description")
		}
	}
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i, c := range s {
		if c == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}
