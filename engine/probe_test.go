package engine

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tcpServer accepts on 127.0.0.1 and hands each connection to serve.
func tcpServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer func() { _ = c.Close() }(); serve(c) }()
		}
	}()
	return ln.Addr().String()
}

func TestAskTellsAnAnswerFromSilence(t *testing.T) {
	status := func(code int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }))
		t.Cleanup(srv.Close)
		return strings.TrimPrefix(srv.URL, "http://")
	}
	redis := tcpServer(t, func(c net.Conn) {
		buf := make([]byte, 512)
		_, _ = c.Read(buf)
		_, _ = c.Write([]byte("-ERR unknown command 'GET'\r\n"))
	})
	dropper := tcpServer(t, func(net.Conn) {}) // Docker's port proxy while nothing listens inside
	silent := tcpServer(t, func(c net.Conn) { time.Sleep(time.Second) })
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		return addr
	}()

	for _, tc := range []struct {
		name             string
		addr             string
		answered         bool
		success, serving bool
		text             string
	}{
		{"200", status(200), true, true, true, "200 OK"},
		{"404: an app without a health route", status(404), true, false, true, "404 Not Found"},
		{"301 is an answer, not followed", status(301), true, false, true, "301 Moved Permanently"},
		{"503: starting or failing", status(503), true, false, false, "503 Service Unavailable"},
		{"another protocol", redis, true, false, true, "a non-HTTP reply"},
		{"accepted and dropped", dropper, false, false, false, ""},
		{"accepted and silent", silent, false, false, false, ""},
		{"refused", closed, false, false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			a, err := ask(ctx, tc.addr, "/")
			if !tc.answered {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.text, a.String())
			assert.Equal(t, tc.success, a.success(), "passes a healthcheck")
			assert.Equal(t, tc.serving, a.serving(), "passes the gate without a healthcheck")
		})
	}
}
