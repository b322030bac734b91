// Package site is the web server inside static-site images: small on
// purpose (the standard library only), so a site image is the site plus a
// few MB.
package site

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Handler serves a site folder: index files (never a folder listing), a
// fallback to /index.html for single-page apps, strong ETags with
// If-None-Match and Range through http.ServeContent, gzip for text (only
// for a whole 200 answer), cache headers (HTML revalidates, assets cache
// for an hour), and /healthz for the readiness gate.
func Handler(dir string, spa bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Header().Set("Cache-Control", "no-store")
			_, _ = w.Write([]byte("ok\n"))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		p := path.Clean("/" + r.URL.Path)
		f, ok := resolve(dir, p, strings.HasSuffix(r.URL.Path, "/"), spa)
		switch {
		case ok && f.redirect:
			http.Redirect(w, r, p+"/", http.StatusMovedPermanently)
			return
		case !ok:
			http.NotFound(w, r)
			return
		}
		serve(w, r, f)
	})
}

// file is what a request path resolved to.
type file struct {
	full     string
	name     string // the URL path of what is served, for its type
	info     fs.FileInfo
	redirect bool // a folder asked without its trailing slash
}

// resolve maps a cleaned URL path to a file of the site: a folder to its
// index.html, and, for a single-page app, an unknown path without an
// extension to /index.html (a missing asset stays a 404).
func resolve(dir, p string, slash, spa bool) (file, bool) {
	full := filepath.Join(dir, filepath.FromSlash(p))
	info, err := os.Stat(full)
	if err == nil && info.IsDir() {
		if p != "/" && !slash {
			return file{redirect: true}, true
		}
		p = path.Join(p, "index.html")
		full = filepath.Join(full, "index.html")
		info, err = os.Stat(full)
	}
	if errors.Is(err, fs.ErrNotExist) && spa && !strings.Contains(path.Base(p), ".") {
		p, full = "/index.html", filepath.Join(dir, "index.html")
		info, err = os.Stat(full)
	}
	if err != nil || !info.Mode().IsRegular() {
		return file{}, false
	}
	return file{full: full, name: p, info: info}, true
}

func serve(w http.ResponseWriter, r *http.Request, f file) {
	fh, err := os.Open(f.full)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer func() { _ = fh.Close() }()
	h := w.Header()
	if strings.HasSuffix(f.name, ".html") {
		h.Set("Cache-Control", "no-cache")
	} else {
		h.Set("Cache-Control", "public, max-age=3600")
	}
	etag := fmt.Sprintf(`"%x-%x"`, f.info.ModTime().UnixNano(), f.info.Size())
	if !compressible(f.name) {
		h.Set("ETag", etag)
		http.ServeContent(w, r, f.name, f.info.ModTime(), fh)
		return
	}
	h.Add("Vary", "Accept-Encoding")
	if r.Header.Get("Range") != "" || !acceptsGzip(r) {
		// Ranges count the bytes of the file as it is: never compressed.
		h.Set("ETag", etag)
		http.ServeContent(w, r, f.name, f.info.ModTime(), fh)
		return
	}
	serveGzip(w, r, fh, f, strings.TrimSuffix(etag, `"`)+`-gz"`)
}

// compressible is text worth gzipping; images, fonts and archives are
// compressed already.
func compressible(name string) bool {
	switch path.Ext(name) {
	case ".html", ".htm", ".css", ".js", ".mjs", ".json", ".svg", ".txt", ".xml", ".map", ".wasm", ".md", ".csv":
		return true
	}
	return false
}

// acceptsGzip reads Accept-Encoding, honouring an explicit gzip;q=0.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(name), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// notModified answers 304 when the client holds this representation.
func notModified(r *http.Request, etag string, mod time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
			if t == etag || t == "*" {
				return true
			}
		}
		return false
	}
	ims, err := http.ParseTime(r.Header.Get("If-Modified-Since"))
	return err == nil && !mod.Truncate(time.Second).After(ims)
}
