package policy_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/policy"
)

func TestParseAndRepoURL(t *testing.T) {
	_, err := policy.Parse("privileged,root")
	require.ErrorContains(t, err, `"root" is not one of privileged, host-mounts`)
	p, err := policy.Parse(" host-network , ")
	require.NoError(t, err)
	assert.True(t, p.Allows(policy.HostNetwork))
	assert.False(t, p.Allows(policy.Privileged))
	for u, local := range map[string]bool{"file:///srv/git/app": true, "FILE:///srv/git/app": true, "File:///srv/git/app": true, "/srv/git/app": true, "../app": true,
		"https://git.example.com/app.git": false, "git@github.com:acme/app.git": false, "ssh://git@host/app": false} {
		assert.Equal(t, local, len(policy.Policy{}.RepoURL("source.git.url", u)) == 1, u)
	}
}
