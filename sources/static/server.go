package static

import (
	"compress/gzip"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// Handler serves a site folder: index files, a fallback to /index.html for
// single-page apps, gzip for text, cache headers (HTML revalidates, assets
// cache for an hour), and /healthz for the readiness gate.
func Handler(dir string, spa bool) http.Handler {
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("ok\n"))
			return
		}
		p := path.Clean("/" + r.URL.Path)
		full := filepath.Join(dir, filepath.FromSlash(p))
		info, err := os.Stat(full)
		if errors.Is(err, fs.ErrNotExist) && spa && !strings.Contains(path.Base(p), ".") {
			r.URL.Path, p, full = "/", "/", filepath.Join(dir, "index.html")
			info, err = os.Stat(full)
		}
		html := strings.HasSuffix(p, ".html") || strings.HasSuffix(p, "/") || (err == nil && info.IsDir())
		if html {
			w.Header().Set("Cache-Control", "no-cache")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=3600")
		}
		if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") && compressible(p, html) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Header().Add("Vary", "Accept-Encoding")
			gz := gzip.NewWriter(w)
			defer gz.Close()
			files.ServeHTTP(&gzipWriter{ResponseWriter: w, w: gz}, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

func compressible(p string, html bool) bool {
	if html {
		return true
	}
	switch path.Ext(p) {
	case ".css", ".js", ".mjs", ".json", ".svg", ".txt", ".xml", ".map", ".wasm":
		return true
	}
	return false
}

type gzipWriter struct {
	http.ResponseWriter
	w *gzip.Writer
}

func (g *gzipWriter) WriteHeader(code int) {
	g.Header().Del("Content-Length")
	g.ResponseWriter.WriteHeader(code)
}

func (g *gzipWriter) Write(b []byte) (int, error) {
	g.Header().Del("Content-Length")
	return g.w.Write(b)
}
