package api

import (
	"net/http/httptest"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestUILang(t *testing.T) {
	for _, tc := range []struct{ query, accept, want string }{
		{"", "", "en"},
		{"", "ru-RU,ru;q=0.9,en;q=0.8", "ru"},
		{"", "de-DE,en;q=0.5,ru;q=0.7", "ru"},
		{"", "de,fr", "en"},
		{"", "ru;q=0", "en"},
		{"lang=en", "ru", "en"},
		{"lang=ru", "en", "ru"},
		{"lang=xx", "ru", "ru"},
	} {
		r := httptest.NewRequest("GET", "/?"+tc.query, nil)
		r.Header.Set("Accept-Language", tc.accept)
		assert.Equal(t, tc.want, uiLang(r), "%q %q", tc.query, tc.accept)
	}
}

// TestUIStringsAreAllTranslated: every key of the English dictionary has a
// Russian one, in both pages (no mixed pages).
func TestUIStringsAreAllTranslated(t *testing.T) {
	keys := regexp.MustCompile(`(?m)\b([a-zA-Z]+):`)
	for name, page := range map[string][]byte{"index": indexHTML, "login": loginHTML} {
		src := string(page)
		en := regexp.MustCompile(`(?s)\ben: \{(.*?)\n  ru: \{`).FindStringSubmatch(src)
		ru := regexp.MustCompile(`(?s)\n  ru: \{(.*?)\n\};`).FindStringSubmatch(src)
		if assert.Len(t, en, 2, name) && assert.Len(t, ru, 2, name) {
			assert.ElementsMatch(t, keys.FindAllString(en[1], -1), keys.FindAllString(ru[1], -1), name)
		}
		for _, k := range regexp.MustCompile(`data-t="([a-zA-Z]+)"`).FindAllStringSubmatch(src, -1) {
			assert.Contains(t, en[1], k[1]+":", "%s: data-t=%q has no English string", name, k[1])
		}
	}
}
