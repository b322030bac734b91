package sources_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/berthops/berth/sources"
)

func TestPlacement(t *testing.T) {
	web := map[string]string{"role": "web", "zone": "eu"}
	for _, tc := range []struct {
		name   string
		p      *sources.Placement
		agent  string
		labels map[string]string
		want   bool
	}{
		{"no placement: every agent", nil, "host-a", nil, true},
		{"named", &sources.Placement{Agents: []string{"host-a", "host-b"}}, "host-b", nil, true},
		{"not named", &sources.Placement{Agents: []string{"host-a"}}, "host-c", web, false},
		{"labels match", &sources.Placement{Labels: map[string]string{"role": "web"}}, "host-c", web, true},
		{"every label must match", &sources.Placement{Labels: map[string]string{"role": "web", "zone": "us"}}, "host-c", web, false},
		{"a label the agent lacks", &sources.Placement{Labels: map[string]string{"gpu": "yes"}}, "host-c", web, false},
		{"named and labelled: both", &sources.Placement{Agents: []string{"host-a"}, Labels: map[string]string{"role": "db"}}, "host-a", web, false},
	} {
		assert.Equal(t, tc.want, tc.p.Places(tc.agent, tc.labels), tc.name)
	}
}
