package sources_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
	"github.com/berthops/berth/sources/dockerfile"
	"github.com/berthops/berth/sources/image"
	"github.com/berthops/berth/sources/static"
)

func TestValidateStrategyMatrix(t *testing.T) {
	values := []string{"", "recreate", "blue-green", "bluegreen", "Recreate", "rolling"}
	valid := map[sources.Kind]map[string]bool{
		sources.KindImage:      {"": true, "recreate": true, "blue-green": true},
		sources.KindDockerfile: {"": true, "recreate": true, "blue-green": true},
		sources.KindStatic:     {"": true, "recreate": true, "blue-green": true},
		sources.KindCompose:    {"": true, "recreate": true},
		sources.KindStack:      {"": true},
	}
	for _, kind := range sources.Kinds {
		for _, v := range values {
			t.Run(string(kind)+"/"+v, func(t *testing.T) {
				err := sources.ValidateStrategy(kind, v)
				if valid[kind][v] {
					assert.NoError(t, err)
					return
				}
				require.Error(t, err)
				if kind == sources.KindStack {
					assert.Contains(t, err.Error(), "Docker Swarm rolls services out itself")
					return
				}
				if v == "blue-green" {
					assert.Contains(t, err.Error(), "docker compose")
				} else {
					assert.Contains(t, err.Error(), `"", "recreate", "blue-green"`)
				}
			})
		}
	}
}

// TestEmptyStrategyKeepsHistoricalBehaviour locks the backward-compatible
// default: a workload file without deploy_strategy deploys as it always did.
func TestEmptyStrategyKeepsHistoricalBehaviour(t *testing.T) {
	tests := []struct {
		name string
		cfg  sources.Config
		want sources.Decision
	}{
		{"image default", &image.Config{Image: "x"}, sources.Decision{Strategy: sources.StrategyBlueGreen, Reason: sources.ReasonDefault}},
		{"image explicit recreate", &image.Config{Image: "x", DeployStrategy: "recreate"}, sources.Decision{Strategy: sources.StrategyRecreate, Requested: "recreate", Reason: sources.ReasonExplicit}},
		{"dockerfile default", &dockerfile.Config{}, sources.Decision{Strategy: sources.StrategyRecreate, Reason: sources.ReasonDefault}},
		{"dockerfile blue-green", &dockerfile.Config{DeployStrategy: "blue-green"}, sources.Decision{Strategy: sources.StrategyBlueGreen, Requested: "blue-green", Reason: sources.ReasonExplicit}},
		{"static default", &static.Config{Dir: "x"}, sources.Decision{Strategy: sources.StrategyRecreate, Reason: sources.ReasonDefault}},
		{"static deno blue-green", &static.Config{Dir: "x", Runtime: "deno", DeployStrategy: "blue-green"}, sources.Decision{Strategy: sources.StrategyBlueGreen, Requested: "blue-green", Reason: sources.ReasonExplicit}},
		{"static deno storage forced", &static.Config{Dir: "x", Runtime: "deno", Storage: "data", DeployStrategy: "blue-green"},
			sources.Decision{Strategy: sources.StrategyRecreate, Requested: "blue-green", Reason: sources.ReasonForced, Why: "storage-backed deno site"}},
		{"compose default", &compose.Config{File: "c.yml"}, sources.Decision{Strategy: sources.StrategyStack, Reason: sources.ReasonDefault}},
		{"compose explicit recreate", &compose.Config{File: "c.yml", DeployStrategy: "recreate"}, sources.Decision{Strategy: sources.StrategyRecreate, Requested: "recreate", Reason: sources.ReasonExplicit}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, sources.EffectiveStrategy(tc.cfg))
		})
	}
}

func TestBuildGreenName(t *testing.T) {
	a, b := sources.BuildGreenName("berth-shop_web"), sources.BuildGreenName("berth-shop_web")
	assert.True(t, strings.HasPrefix(a, "berth-shop_web."))
	assert.NotEqual(t, a, b)
}

func TestDecidePinnedHostPort(t *testing.T) {
	w := &sources.Workload{Spec: sources.Spec{Source: &image.Config{Image: "pg:16"}, Port: 5432, HostPort: 5432}}
	assert.Equal(t, sources.Decision{Strategy: sources.StrategyRecreate, Reason: sources.ReasonForced, Why: "pinned host_port"}, sources.Decide(w))
	w.HostPort = 0
	assert.Equal(t, sources.StrategyBlueGreen, sources.Decide(w).Strategy)
}
