package api

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
)

// uiLangs are the languages of the web UI; the first is the default.
var uiLangs = []string{"en", "ru"}

// uiLang picks the web UI's language: ?lang=, then the browser's
// Accept-Language (by q), then English.
func uiLang(r *http.Request) string {
	if l := r.URL.Query().Get("lang"); known(l) {
		return l
	}
	best, bestQ := uiLangs[0], -1.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		base, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		if known(base) && q > bestQ && q > 0 {
			best, bestQ = base, q
		}
	}
	return best
}

func known(l string) bool {
	for _, k := range uiLangs {
		if l == k {
			return true
		}
	}
	return false
}

// servePage writes an embedded page in the request's language: the page
// reads <html lang> and translates every string itself.
func servePage(w http.ResponseWriter, r *http.Request, page []byte) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Language", uiLang(r))
	w.Header().Add("Vary", "Accept-Language")
	_, _ = w.Write(bytes.Replace(page, []byte(`<html lang="en">`), []byte(`<html lang="`+uiLang(r)+`">`), 1))
}
