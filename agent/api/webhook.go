package api

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxHookBody is the largest webhook payload read (GitHub sends up to 25 MiB).
const maxHookBody = 25 << 20

// hookReads bounds the webhook bodies read at once: a body is buffered to
// check its signature, so many large forged requests in parallel would
// otherwise hold 25 MiB each.
const hookReads = 2

// gitHook receives push webhooks from GitHub, Gitea/Forgejo, GitLab or
// anything that signs its body with HMAC-SHA256. A valid hook only
// triggers a tick, and only for a push to the watched branch: the tick
// pulls and decides, so a forged payload cannot deploy anything that is
// not in git. Without a webhook secret the endpoint is off.
//
// Nothing is read before the request names a signature (or a GitLab
// token, compared first); at most hookReads bodies are buffered at once.
func (s *Server) gitHook(w http.ResponseWriter, r *http.Request) {
	if s.opts.WebhookSecret == "" {
		http.Error(w, "webhooks are off (set --webhook-secret-file)", http.StatusNotFound)
		return
	}
	if tok := r.Header.Get("X-Gitlab-Token"); tok != "" {
		if subtle.ConstantTimeCompare([]byte(tok), []byte(s.opts.WebhookSecret)) != 1 {
			http.Error(w, "signature missing or wrong", http.StatusUnauthorized)
			return
		}
	} else if signature(r) == nil {
		http.Error(w, "signature missing or wrong", http.StatusUnauthorized)
		return
	}
	if r.ContentLength > maxHookBody {
		http.Error(w, "the payload is larger than 25 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	select {
	case s.hooks <- struct{}{}:
		defer func() { <-s.hooks }()
	case <-r.Context().Done():
		return
	}
	// The body is streamed once through the HMAC and a reader of its
	// "ref": nothing of it is held, whatever its size.
	counted := &countingReader{r: io.LimitReader(r.Body, maxHookBody+1)}
	mac := hmac.New(sha256.New, []byte(s.opts.WebhookSecret))
	tee := io.TeeReader(counted, mac)
	ref := streamRef(payloadReader(r, tee))
	if _, err := io.Copy(io.Discard, tee); err != nil {
		http.Error(w, "reading the body failed", http.StatusBadRequest)
		return
	}
	if counted.n > maxHookBody {
		http.Error(w, "the payload is larger than 25 MiB", http.StatusRequestEntityTooLarge)
		return
	}
	if r.Header.Get("X-Gitlab-Token") == "" && !hmac.Equal(signature(r), mac.Sum(nil)) {
		http.Error(w, "signature missing or wrong", http.StatusUnauthorized)
		return
	}
	if ev := hookEvent(r); ev != "" && ev != "push" && ev != "Push Hook" {
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "ignored: a %s event, not a push\n", ev)
		return
	}
	if ref != "refs/heads/"+s.opts.Branch {
		// Pushes to other branches (the status branch included: the
		// agent's own status commits would otherwise tick it again), tag
		// pushes, and deliveries that name no ref.
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "ignored: not a push to the watched branch (ref %q)\n", ref)
		return
	}
	s.agent.Trigger()
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintln(w, "sync queued")
}

// hookEvent is the event a forge says it delivers ("" when it does not
// say: a generic sender).
func hookEvent(r *http.Request) string {
	for _, h := range []string{"X-GitHub-Event", "X-Gitea-Event", "X-Forgejo-Event", "X-Gogs-Event", "X-Gitlab-Event"} {
		if v := r.Header.Get(h); v != "" {
			return v
		}
	}
	return ""
}

// payloadReader is the JSON of a delivery: the body, or its payload
// field when the forge posts a form (GitHub's and Gitea's
// "application/x-www-form-urlencoded" content type), decoded as it is
// read.
func payloadReader(r *http.Request, body io.Reader) io.Reader {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	if strings.TrimSpace(strings.ToLower(ct)) != "application/x-www-form-urlencoded" {
		return body
	}
	return &formField{r: bufio.NewReader(body), name: "payload"}
}

// pushedRef is the ref a push payload names (GitHub, Gitea, Forgejo and
// GitLab all send "ref"); "" when it names none.
func pushedRef(body []byte) string { return streamRef(bytes.NewReader(body)) }

// streamRef reads a JSON object token by token and returns its top-level
// "ref" (the last one, as encoding/json would) when it is a string that
// starts with refs/, else "" (also for a document that is not one JSON
// object). Only the current token is ever held.
func streamRef(r io.Reader) string {
	dec := json.NewDecoder(r)
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return ""
	}
	ref := ""
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return ""
		}
		if key == "ref" {
			t, err := dec.Token()
			if err != nil {
				return ""
			}
			v, ok := t.(string)
			if !ok {
				return "" // encoding/json fails on a ref that is not a string
			}
			ref = v
			continue
		}
		if skipValue(dec) != nil {
			return ""
		}
	}
	if _, err := dec.Token(); err != nil { // the closing }
		return ""
	}
	if _, err := dec.Token(); err != io.EOF {
		return "" // something after the object
	}
	if !strings.HasPrefix(ref, "refs/") {
		return ""
	}
	return ref
}

// skipValue reads one JSON value, token by token.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// formField reads the URL-decoded value of one field of a form body.
type formField struct {
	r     *bufio.Reader
	name  string
	found bool
	done  bool
}

func (f *formField) Read(p []byte) (int, error) {
	if f.done {
		return 0, io.EOF
	}
	if !f.found {
		if err := f.seek(); err != nil {
			f.done = true
			return 0, err
		}
	}
	n := 0
	for n < len(p) {
		c, err := f.r.ReadByte()
		if err != nil || c == '&' {
			f.done = true
			break
		}
		switch c {
		case '+':
			c = ' '
		case '%':
			hex := make([]byte, 2)
			if _, err := io.ReadFull(f.r, hex); err != nil {
				f.done = true
				return n, io.ErrUnexpectedEOF
			}
			v, err := strconv.ParseUint(string(hex), 16, 8)
			if err != nil {
				f.done = true
				return n, fmt.Errorf("a bad escape in the form")
			}
			c = byte(v)
		}
		p[n] = c
		n++
	}
	if n == 0 && f.done {
		return 0, io.EOF
	}
	return n, nil
}

// seek skips to the value of the field name.
func (f *formField) seek() error {
	for {
		key, err := f.r.ReadString('=')
		if err != nil {
			return io.EOF
		}
		key = strings.TrimSuffix(key, "=")
		if i := strings.LastIndexByte(key, '&'); i >= 0 {
			key = key[i+1:]
		}
		if key == f.name {
			f.found = true
			return nil
		}
		if _, err := f.r.ReadString('&'); err != nil {
			return io.EOF
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// signature is the HMAC-SHA256 a request names (GitHub, Gitea, Forgejo,
// generic), nil when it names none.
func signature(r *http.Request) []byte {
	sig := r.Header.Get("X-Hub-Signature-256")
	if sig == "" {
		sig = r.Header.Get("X-Gitea-Signature")
	}
	if sig == "" {
		sig = r.Header.Get("X-Signature-256")
	}
	got, err := hex.DecodeString(strings.TrimPrefix(sig, "sha256="))
	if err != nil || len(got) != sha256.Size {
		return nil
	}
	return got
}
