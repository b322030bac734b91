package badge_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/berthops/berth/badge"
)

func TestBadgeColoursAndEscaping(t *testing.T) {
	svg := string(badge.SVG("shop/<web>", "down"))
	assert.True(t, strings.HasPrefix(svg, "<svg"))
	assert.Contains(t, svg, "shop/&lt;web&gt;", "text is escaped")
	for state, colour := range map[string]string{
		"running": "#4c1", "degraded": "#fe7d37", "down": "#e05d44", "pinned": "#007ec6", "suspended": "#9f9f9f", "unknown": "#9f9f9f",
	} {
		assert.Contains(t, string(badge.SVG("a/b", state)), colour, state)
	}
}
