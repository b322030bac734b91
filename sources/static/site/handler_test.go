package site_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/sources/static/site"
)

// siteDir writes a small site: an index, a folder with its own index, a
// script big enough that gzip shrinks it, and an image.
func siteDir(t *testing.T) (dir string, script []byte) {
	dir = t.TempDir()
	script = []byte(strings.Repeat("console.log('berth');\n", 200))
	for name, body := range map[string][]byte{
		"index.html":      []byte("<h1>home</h1>"),
		"docs/index.html": []byte("<h1>docs</h1>"),
		"app.js":          script,
		"logo.png":        bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 64),
		"notes.txt":       []byte("plain words\n"),
	} {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), body, 0o644))
	}
	return dir, script
}

// response is an answer as the client sees it.
type response struct {
	StatusCode int
	Header     http.Header
	Body       *bytes.Buffer
}

func get(t *testing.T, h http.Handler, method, target string, header map[string]string) response {
	t.Helper()
	req := httptest.NewRequest(method, "http://site"+target, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Header(), rec.Body}
}

func body(t *testing.T, resp response) string {
	t.Helper()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(resp.Body)
		require.NoError(t, err, "a gzip Content-Encoding comes with a gzip body")
		r = gz
	}
	b, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(b)
}

func TestPathsResolve(t *testing.T) {
	dir, _ := siteDir(t)
	for _, tc := range []struct {
		name, path   string
		spa          bool
		code         int
		body, header string
	}{
		{"index", "/", false, 200, "<h1>home</h1>", "no-cache"},
		{"folder index", "/docs/", false, 200, "<h1>docs</h1>", "no-cache"},
		{"folder without its slash", "/docs", false, 301, "", ""},
		{"asset", "/logo.png", false, 200, "", "public, max-age=3600"},
		{"missing", "/nope", false, 404, "404 page not found\n", ""},
		{"spa fallback", "/app/route", true, 200, "<h1>home</h1>", "no-cache"},
		{"spa keeps asset 404s", "/missing.png", true, 404, "404 page not found\n", ""},
		{"healthz", "/healthz", false, 200, "ok\n", "no-store"},
		{"no escape", "/../../etc/passwd", false, 404, "404 page not found\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(t, site.Handler(dir, tc.spa), http.MethodGet, tc.path, map[string]string{"Accept-Encoding": "gzip"})
			assert.Equal(t, tc.code, resp.StatusCode)
			if tc.code == 301 {
				assert.Equal(t, "/docs/", resp.Header.Get("Location"))
				return
			}
			if tc.body != "" {
				assert.Equal(t, tc.body, body(t, resp))
			}
			if tc.header != "" {
				assert.Equal(t, tc.header, resp.Header.Get("Cache-Control"))
			}
		})
	}
}

// TestCompressionOnlyForWholeAnswers: gzip for a whole 200 of text, with
// its headers; never for a 404, a range, an image, or a client that did
// not ask; Vary on every text answer.
func TestCompressionOnlyForWholeAnswers(t *testing.T) {
	dir, script := siteDir(t)
	h := site.Handler(dir, false)

	resp := get(t, h, http.MethodGet, "/app.js", map[string]string{"Accept-Encoding": "br, gzip;q=0.8"})
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	assert.Equal(t, "Accept-Encoding", resp.Header.Get("Vary"))
	assert.Equal(t, "text/javascript; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Empty(t, resp.Header.Get("Content-Length"), "the compressed length is not the file's")
	assert.Equal(t, string(script), body(t, resp))

	resp = get(t, h, http.MethodGet, "/notes.txt", map[string]string{"Accept-Encoding": "gzip"})
	assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"), "sniffed: a scratch image has no mime.types")
	assert.Equal(t, "plain words\n", body(t, resp))

	resp = get(t, h, http.MethodGet, "/missing.js", map[string]string{"Accept-Encoding": "gzip"})
	assert.Equal(t, 404, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Content-Encoding"))
	assert.Equal(t, "404 page not found\n", body(t, resp), "a readable 404, not gzip bytes")

	resp = get(t, h, http.MethodGet, "/app.js", map[string]string{"Accept-Encoding": "gzip", "Range": "bytes=8-19"})
	assert.Equal(t, 206, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Content-Encoding"), "a range is of the file's own bytes")
	assert.Equal(t, "bytes 8-19/"+strconv.Itoa(len(script)), resp.Header.Get("Content-Range"))
	assert.Equal(t, string(script[8:20]), body(t, resp))

	resp = get(t, h, http.MethodGet, "/app.js", map[string]string{"Accept-Encoding": "gzip;q=0"})
	assert.Empty(t, resp.Header.Get("Content-Encoding"), "q=0 refuses gzip")
	assert.Equal(t, "Accept-Encoding", resp.Header.Get("Vary"))
	assert.Equal(t, strconv.Itoa(len(script)), resp.Header.Get("Content-Length"))
	assert.Equal(t, string(script), body(t, resp))

	resp = get(t, h, http.MethodGet, "/logo.png", map[string]string{"Accept-Encoding": "gzip"})
	assert.Empty(t, resp.Header.Get("Content-Encoding"), "images are compressed already")
	assert.Equal(t, "image/png", resp.Header.Get("Content-Type"))

	resp = get(t, h, http.MethodHead, "/app.js", map[string]string{"Accept-Encoding": "gzip"})
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	b, _ := io.ReadAll(resp.Body)
	assert.Empty(t, b, "HEAD has no body")

	resp = get(t, h, http.MethodPost, "/app.js", nil)
	assert.Equal(t, 405, resp.StatusCode)
}

// TestETagsRevalidate: each representation has its own strong ETag, and
// If-None-Match with it answers 304 without a body.
func TestETagsRevalidate(t *testing.T) {
	dir, _ := siteDir(t)
	h := site.Handler(dir, false)
	for _, enc := range []string{"", "gzip"} {
		first := get(t, h, http.MethodGet, "/app.js", map[string]string{"Accept-Encoding": enc})
		etag := first.Header.Get("ETag")
		require.Regexp(t, `^"[0-9a-f]+-[0-9a-f]+(-gz)?"$`, etag)
		assert.Equal(t, enc == "gzip", strings.HasSuffix(etag, `-gz"`), "the compressed bytes are another representation")
		again := get(t, h, http.MethodGet, "/app.js", map[string]string{"Accept-Encoding": enc, "If-None-Match": etag})
		assert.Equal(t, 304, again.StatusCode, "encoding %q", enc)
		b, _ := io.ReadAll(again.Body)
		assert.Empty(t, b)
		assert.Empty(t, again.Header.Get("Content-Encoding"), "a 304 has no body to encode")
		other := get(t, h, http.MethodGet, "/app.js", map[string]string{"Accept-Encoding": enc, "If-None-Match": `"stale"`})
		assert.Equal(t, 200, other.StatusCode)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app.js"), []byte("changed"), 0o644))
	changed := get(t, h, http.MethodGet, "/app.js", nil)
	assert.Equal(t, "changed", body(t, changed))
}
