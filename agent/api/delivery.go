package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

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
