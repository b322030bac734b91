package static_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/sources/static"
)

func TestHandler(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index.html"), []byte("<h1>home</h1>"), 0o644))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "docs"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "docs", "index.html"), []byte("<h1>docs</h1>"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "app.js"), []byte("console.log(1)"), 0o644))

	tests := []struct {
		name, path       string
		spa, gzip        bool
		code             int
		body, cache, enc string
	}{
		{name: "index", path: "/", code: 200, body: "<h1>home</h1>", cache: "no-cache"},
		{name: "folder index", path: "/docs/", code: 200, body: "<h1>docs</h1>", cache: "no-cache"},
		{name: "asset", path: "/app.js", code: 200, body: "console.log(1)", cache: "public, max-age=3600"},
		{name: "gzip", path: "/app.js", gzip: true, code: 200, body: "console.log(1)", cache: "public, max-age=3600", enc: "gzip"},
		{name: "missing", path: "/nope", code: 404},
		{name: "spa fallback", path: "/app/route", spa: true, code: 200, body: "<h1>home</h1>", cache: "no-cache"},
		{name: "spa keeps asset 404s", path: "/missing.png", spa: true, code: 404},
		{name: "healthz", path: "/healthz", code: 200, body: "ok\n"},
		{name: "no escape", path: "/../../etc/passwd", code: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "http://site"+tc.path, nil)
			if tc.gzip {
				req.Header.Set("Accept-Encoding", "gzip")
			}
			rec := httptest.NewRecorder()
			static.Handler(dir, tc.spa).ServeHTTP(rec, req)
			assert.Equal(t, tc.code, rec.Code)
			if tc.code != 200 {
				return
			}
			var r io.Reader = rec.Body
			if tc.enc == "gzip" {
				assert.Equal(t, "gzip", rec.Header().Get("Content-Encoding"))
				gz, err := gzip.NewReader(rec.Body)
				require.NoError(t, err)
				r = gz
			}
			b, err := io.ReadAll(r)
			require.NoError(t, err)
			assert.Equal(t, tc.body, string(b))
			if tc.cache != "" {
				assert.Equal(t, tc.cache, rec.Header().Get("Cache-Control"))
			}
		})
	}
}
