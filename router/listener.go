package router

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// heldNetwork is the Caddy network of the proxy's listen addresses
// ("berth/:80"). Caddy on Linux opens a new SO_REUSEPORT socket for every
// config it loads and closes the old config's socket once the new one
// runs: a connection the kernel had queued on the old socket is reset
// before any server reads it, so every route added or removed cost a
// few clients an EOF that no HTTP client retries (measured: 21 failed of
// 9,171 requests over 600 reloads). Under this network Berth opens one
// socket per address and keeps it while any config uses it; each config
// gets a view whose Close only stops that config's Accept, so a reload
// hands the queue from the old config to the new one. A server that is
// shutting down also drops a new connection whose request it read after
// the shutdown began (net/http does, without an answer): such a
// connection, nothing yet written to it, goes to the next config with
// the bytes read replayed (heldConn).
const heldNetwork = "berth"

var registerHeld sync.Once

// registerHeldNetwork tells Caddy about heldNetwork (once per process;
// HTTP/3 on such an address uses Caddy's own UDP sockets, which it
// already shares across reloads).
func registerHeldNetwork() {
	registerHeld.Do(func() {
		caddy.RegisterNetwork(heldNetwork, listenHeld)
		caddyhttp.RegisterNetworkHTTP3(heldNetwork, "udp")
	})
}

// heldAddr is addr (":80", "127.0.0.1:8080") under heldNetwork.
func heldAddr(addr string) string { return heldNetwork + "/" + addr }

var held = struct {
	sync.Mutex
	sockets map[string]*heldSocket
}{sockets: map[string]*heldSocket{}}

// heldSocket is one listening socket and the views Caddy's configs hold.
type heldSocket struct {
	addr  string
	ln    net.Listener
	conns chan *heldConn // accepted, waiting for a view's Accept
	done  chan struct{}  // closed with the socket
	views int            // open views; the socket closes with the last
}

// listenHeld is Caddy's ListenerFunc for heldNetwork.
func listenHeld(_ context.Context, _, host, portRange string, portOffset uint, _ net.ListenConfig) (any, error) {
	if portOffset != 0 {
		return nil, fmt.Errorf("the %s network takes one port, not the range %s", heldNetwork, portRange)
	}
	addr := net.JoinHostPort(host, portRange)
	held.Lock()
	defer held.Unlock()
	s := held.sockets[addr]
	if s == nil {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		s = &heldSocket{addr: addr, ln: ln, conns: make(chan *heldConn), done: make(chan struct{})}
		held.sockets[addr] = s
		go s.accept()
	}
	s.views++
	return &heldView{socket: s, closed: make(chan struct{})}, nil
}

// accept takes connections off the socket and hands each to whichever
// view asks next; a connection waits here, never reset, while one config
// gives way to the next.
func (s *heldSocket) accept() {
	var delay time.Duration
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait, as net/http does.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			time.Sleep(delay)
			continue
		}
		delay = 0
		if !s.handOver(&heldConn{Conn: c, socket: s}) {
			return
		}
	}
}

// handOver gives c to the next view that accepts; false when the socket
// closed first (c is closed then).
func (s *heldSocket) handOver(c *heldConn) bool {
	select {
	case s.conns <- c:
		return true
	case <-s.done:
		_ = c.Conn.Close()
		return false
	}
}

// release drops one view; the last one closes the socket.
func (s *heldSocket) release() {
	held.Lock()
	defer held.Unlock()
	s.views--
	if s.views > 0 {
		return
	}
	delete(held.sockets, s.addr)
	close(s.done)
	_ = s.ln.Close()
}

// heldView is one config's listener on a held socket.
type heldView struct {
	socket *heldSocket
	closed chan struct{}
	once   sync.Once
}

func (v *heldView) Accept() (net.Conn, error) {
	select {
	case <-v.closed:
		return nil, net.ErrClosed
	default:
	}
	select {
	case c := <-v.socket.conns:
		c.view = v
		return c, nil
	case <-v.closed:
		return nil, net.ErrClosed
	case <-v.socket.done:
		return nil, net.ErrClosed
	}
}

func (v *heldView) Close() error {
	v.once.Do(func() {
		close(v.closed)
		v.socket.release()
	})
	return nil
}

func (v *heldView) Addr() net.Addr { return v.socket.ln.Addr() }

func (v *heldView) isClosed() bool {
	select {
	case <-v.closed:
		return true
	default:
		return false
	}
}

// heldConn is an accepted connection. Until the server writes to it, it
// keeps what the server read; closed unanswered by a config that is
// shutting down, it goes to the next config, which reads those bytes
// first. Once anything is written it is an ordinary connection.
type heldConn struct {
	net.Conn
	socket *heldSocket
	view   *heldView // set by Accept

	mu       sync.Mutex
	wrote    bool
	read     []byte // read while nothing was written, up to maxReplay
	overflow bool   // read more than maxReplay
	replay   []byte // read bytes the previous config left unanswered
	hops     int
}

// maxReplay bounds what a connection keeps to replay: a request's head
// (a bigger one is not replayed; it costs memory per connection).
const maxReplay = 16 << 10

func (c *heldConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if len(c.replay) > 0 {
		n := copy(p, c.replay)
		c.replay = c.replay[n:]
		c.keep(p[:n])
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.keep(p[:n])
	c.mu.Unlock()
	return n, err
}

// keep records read bytes while nothing was written (c.mu held).
func (c *heldConn) keep(b []byte) {
	if c.wrote || c.overflow {
		return
	}
	if len(c.read)+len(b) > maxReplay {
		c.overflow, c.read = true, nil
		return
	}
	c.read = append(c.read, b...)
}

func (c *heldConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.wrote, c.read = true, nil
	c.mu.Unlock()
	return c.Conn.Write(p)
}

func (c *heldConn) Close() error {
	c.mu.Lock()
	candidate := !c.wrote && !c.overflow && c.hops < 3 && c.view != nil
	readAny := len(c.read) > 0
	next := &heldConn{Conn: c.Conn, socket: c.socket, replay: c.read, hops: c.hops + 1}
	c.wrote = true // this config is done with it either way
	c.mu.Unlock()
	if candidate && readAny && !c.view.isClosed() {
		// net/http marks itself shutting down a moment before it closes
		// its listeners, and drops a request it reads in between: wait
		// for the close that follows. An unanswered close with the view
		// staying open is a client that went away mid-request.
		select {
		case <-c.view.closed:
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !candidate || !c.view.isClosed() {
		return c.Conn.Close()
	}
	_ = c.Conn.SetDeadline(time.Time{}) // the next server sets its own
	go c.socket.handOver(next)
	return nil
}
