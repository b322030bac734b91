package api

import (
	"crypto/rand"
	"crypto/subtle"
	_ "embed" // the login page
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

//go:embed ui/login.html
var loginHTML []byte

// Sessions: the web UI cannot send a bearer header (EventSource cannot at
// all), so it exchanges the token for a session cookie: random, kept in
// memory only, HttpOnly and SameSite=Strict.
const (
	sessionCookie = "berth_session"
	sessionTTL    = 12 * time.Hour
	maxSessions   = 1000
)

type sessions struct {
	mu   sync.Mutex
	byID map[string]time.Time // session id → expiry
}

func (s *sessions) create(now time.Time) string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand: " + err.Error()) // never fails on supported platforms
	}
	id := hex.EncodeToString(b[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, exp := range s.byID {
		if now.After(exp) || len(s.byID) >= maxSessions {
			delete(s.byID, k)
		}
	}
	s.byID[id] = now.Add(sessionTTL)
	return id
}

func (s *sessions) valid(id string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.byID[id]
	return ok && now.Before(exp)
}

func (s *sessions) end(id string) {
	s.mu.Lock()
	delete(s.byID, id)
	s.mu.Unlock()
}

// authorized reports whether a request carries the token (bearer) or a
// session made with it. Without a token everything is.
func (s *Server) authorized(r *http.Request) bool {
	if s.opts.Token == "" {
		return true
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.opts.Token)) == 1 {
		return true
	}
	c, err := r.Cookie(sessionCookie)
	return err == nil && s.sessions.valid(c.Value, s.now())
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.opts.Token == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther) // nothing to log in to
		return
	}
	servePage(w, r, loginHTML)
}

// login exchanges the token (form field "token") for a session cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if wait := s.guesses.wait(r, s.now()); wait > 0 {
		tooMany(w, wait)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	tok := r.PostFormValue("token")
	if s.opts.Token == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.Token)) != 1 {
		s.guesses.failed(r, s.now())
		http.Redirect(w, r, "/login?failed=1", http.StatusSeeOther)
		return
	}
	s.guesses.succeeded(r)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: s.sessions.create(s.now()), Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(sessionTTL.Seconds())})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther) // without a token, /login leads back to the UI

}
