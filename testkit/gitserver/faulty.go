package gitserver

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
)

// Fault is how a Faulty front misbehaves.
type Fault int32

// The faults.
const (
	Pass  Fault = iota // forward to the real server
	Hang               // accept, read the request, never answer
	Reset              // close the connection without an answer
	Fail               // answer 500
)

// Faulty is a front for a git server that can be switched, while tests
// run, between passing requests through and failing in chosen ways.
type Faulty struct {
	URL   string // the front's base URL; a repo is URL + "/" + name + ".git"
	fault atomic.Int32
	stop  chan struct{}
}

// NewFaulty starts a front for the server until the test ends.
func NewFaulty(t testing.TB, s *Server) *Faulty {
	t.Helper()
	target, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	f := &Faulty{stop: make(chan struct{})}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch Fault(f.fault.Load()) {
		case Hang:
			select { // until the client gives up or the test ends
			case <-r.Context().Done():
			case <-f.stop:
			}
		case Reset:
			if hj, ok := w.(http.Hijacker); ok {
				if conn, _, err := hj.Hijack(); err == nil {
					_ = conn.Close()
				}
			}
		case Fail:
			http.Error(w, "git server error", http.StatusInternalServerError)
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(func() { close(f.stop); srv.Close() })
	f.URL = srv.URL
	return f
}

// Set switches the fault.
func (f *Faulty) Set(fault Fault) { f.fault.Store(int32(fault)) }
