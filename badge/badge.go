// Package badge renders status badges: the same SVG on the status branch
// and at the agent's /badges endpoint.
package badge

import (
	"fmt"
	"html"
	"unicode/utf8"
)

// Badge colours by state.
var badgeColors = map[string]string{
	"running":   "#4c1",
	"deploying": "#dfb317",
	"degraded":  "#fe7d37",
	"pinned":    "#007ec6",
	"suspended": "#9f9f9f",
	"down":      "#e05d44",
	"invalid":   "#e05d44",
}

// SVG renders a flat status badge ("label | message") as SVG, in the
// usual badge style. Text is escaped. The status branch and the agent's
// HTTP API serve the same bytes.
func SVG(label, message string) []byte {
	color, ok := badgeColors[message]
	if !ok {
		color = "#9f9f9f"
	}
	lw, mw := textWidth(label)+10, textWidth(message)+10
	l, m := html.EscapeString(label), html.EscapeString(message)
	return []byte(fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" width="%[1]d" height="20" role="img" aria-label="%[3]s: %[4]s">`+
		`<title>%[3]s: %[4]s</title>`+
		`<linearGradient id="s" x2="0" y2="100%%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`+
		`<clipPath id="r"><rect width="%[1]d" height="20" rx="3" fill="#fff"/></clipPath>`+
		`<g clip-path="url(#r)"><rect width="%[2]d" height="20" fill="#555"/><rect x="%[2]d" width="%[5]d" height="20" fill="%[6]s"/><rect width="%[1]d" height="20" fill="url(#s)"/></g>`+
		`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">`+
		`<text x="%[7]d" y="15" fill="#010101" fill-opacity=".3">%[3]s</text><text x="%[7]d" y="14">%[3]s</text>`+
		`<text x="%[8]d" y="15" fill="#010101" fill-opacity=".3">%[4]s</text><text x="%[8]d" y="14">%[4]s</text></g></svg>`+"\n",
		lw+mw, lw, l, m, mw, color, lw/2, lw+mw/2))
}

// textWidth approximates Verdana 11px.
func textWidth(s string) int { return utf8.RuneCountInString(s)*7 + 1 }
