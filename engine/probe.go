package engine

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// askTimeout bounds one question to a starting server.
const askTimeout = 2 * time.Second

// answer is what a port said to one GET: an HTTP status, or, for a server
// that speaks another protocol, the fact that it said something.
type answer struct {
	status int    // 0: the bytes were not an HTTP response
	text   string // "404 Not Found"
}

func (a answer) String() string {
	if a.status == 0 {
		return "a non-HTTP reply"
	}
	return a.text
}

// success is a healthcheck's pass: 2xx.
func (a answer) success() bool { return a.status >= 200 && a.status < 300 }

// serving is the pass without a healthcheck: the server listens and is not
// failing. An app without a health route answers 404 and counts; a
// database on its port answers in its own protocol and counts.
func (a answer) serving() bool { return a.status < 500 }

// ask sends one GET path to addr over a fresh connection. It returns an
// error when nothing answered: the connection was refused, dropped
// without a byte (Docker's port proxy does that while the container does
// not listen yet), or stayed silent. Redirects are not followed: a 3xx is
// an answer.
func ask(ctx context.Context, addr, path string) (answer, error) {
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return answer{}, err
	}
	defer func() { _ = conn.Close() }()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("User-Agent", "berth-gate")
	req.Close = true
	if err := req.Write(conn); err != nil {
		return answer{}, err
	}
	br := bufio.NewReader(conn)
	if _, err := br.Peek(1); err != nil {
		return answer{}, fmt.Errorf("no reply: %w", err)
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return answer{}, nil // it spoke, but not HTTP
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return answer{status: resp.StatusCode, text: resp.Status}, nil
}
