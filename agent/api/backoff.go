package api

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Guessing the token: a client gets freeTries wrong tokens (at /login or
// as a bearer), then waits 1s, 2s, 4s … up to maxWait before the next try
// is even compared; until then it is answered 429. A right token ends
// the wait.
const (
	freeTries  = 5
	maxWait    = time.Minute
	maxClients = 10_000
)

type guesses struct {
	mu       sync.Mutex
	byClient map[string]*tries
}

type tries struct {
	failed int
	until  time.Time
}

// client is who is guessing: the peer's IP address.
func client(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// wait is how long the client must still wait before its next try.
func (g *guesses) wait(r *http.Request, now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t, ok := g.byClient[client(r)]; ok && now.Before(t.until) {
		return t.until.Sub(now)
	}
	return 0
}

func (g *guesses) failed(r *http.Request, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.byClient == nil {
		g.byClient = map[string]*tries{}
	}
	if len(g.byClient) >= maxClients {
		for k, t := range g.byClient {
			if now.After(t.until.Add(maxWait)) {
				delete(g.byClient, k)
			}
		}
	}
	t := g.byClient[client(r)]
	if t == nil {
		if len(g.byClient) >= maxClients {
			return // full of fresh guessers: each is held by its own entry
		}
		t = &tries{}
		g.byClient[client(r)] = t
	}
	t.failed++
	if t.failed > freeTries {
		t.until = now.Add(min(time.Second<<min(t.failed-freeTries-1, 10), maxWait))
	}
}

func (g *guesses) succeeded(r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.byClient, client(r))
}

// tooMany answers 429 with the wait.
func tooMany(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)+1))
	http.Error(w, "too many wrong tokens from this address: wait and try again", http.StatusTooManyRequests)
}
