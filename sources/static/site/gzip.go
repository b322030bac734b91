package site

import (
	"compress/gzip"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"sync"
)

var gzipWriters = sync.Pool{New: func() any { w, _ := gzip.NewWriterLevel(io.Discard, gzip.DefaultCompression); return w }}

// serveGzip answers a whole file compressed: a 200 with Content-Encoding
// and its own ETag (the compressed bytes are another representation), or a
// 304 without a body.
func serveGzip(w http.ResponseWriter, r *http.Request, fh *os.File, f file, etag string) {
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Last-Modified", f.info.ModTime().UTC().Format(http.TimeFormat))
	if notModified(r, etag, f.info.ModTime()) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	ctype := mime.TypeByExtension(path.Ext(f.name))
	if ctype == "" { // a scratch image has no /etc/mime.types: sniff, as ServeContent does
		var head [512]byte
		n, _ := io.ReadFull(fh, head[:])
		ctype = http.DetectContentType(head[:n])
		if _, err := fh.Seek(0, io.SeekStart); err != nil {
			http.Error(w, "reading the file failed", http.StatusInternalServerError)
			return
		}
	}
	h.Set("Content-Type", ctype)
	h.Set("Content-Encoding", "gzip")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	gz := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(gz)
	gz.Reset(w)
	if _, err := io.Copy(gz, fh); err != nil {
		return // the client went away; the status is out already
	}
	_ = gz.Close()
}
