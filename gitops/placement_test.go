package gitops_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/sources"
)

func TestPlaceOn(t *testing.T) {
	w := func(name string, p *sources.Placement) *sources.Workload {
		return &sources.Workload{App: "a", Name: name, Placement: p}
	}
	d := &gitops.Desired{
		Workloads: []*sources.Workload{w("all", nil), w("a-only", &sources.Placement{Agents: []string{"host-a"}}),
			w("web", &sources.Placement{Labels: map[string]string{"role": "web"}})},
		Invalid: []*gitops.InvalidWorkload{{ID: "a/broken"}},
	}
	d.PlaceOn("host-b", map[string]string{"role": "web"})
	var got []string
	for _, w := range d.Workloads {
		got = append(got, w.Name)
	}
	assert.Equal(t, []string{"all", "web"}, got)
	assert.Len(t, d.Elsewhere, 1)
	assert.True(t, d.IDs()["a/broken"], "an invalid file keeps what runs, on every agent")
}

func TestParseAgentLabels(t *testing.T) {
	l, err := gitops.ParseAgentLabels("role=web, zone=eu")
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"role": "web", "zone": "eu"}, l)
	l, err = gitops.ParseAgentLabels("")
	require.NoError(t, err)
	assert.Empty(t, l)
	for _, bad := range []string{"role", "Role=web", "role=", "=web"} {
		_, err := gitops.ParseAgentLabels(bad)
		assert.Error(t, err, bad)
	}
}
