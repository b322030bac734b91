package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
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
func pushedRef(body []byte) string { return streamDelivery(bytes.NewReader(body)).ref }

// delivery is what Berth reads of a webhook payload.
type delivery struct {
	ref  string // a push's "ref", when it starts with refs/
	base string // a pull request's target branch
}

// deliveryFields are the payload fields read, by their path: a push's
// ref (every forge), a pull request's base branch (GitHub, Gitea and
// Forgejo: pull_request.base.ref; GitLab: object_attributes.target_branch).
var deliveryFields = []string{"ref", "pull_request.base.ref", "object_attributes.target_branch"}

// streamDelivery reads a JSON object token by token and keeps the string
// values of deliveryFields (the last one of each, as encoding/json
// would); a document that is not one JSON object gives nothing. Only the
// current token is ever held.
func streamDelivery(r io.Reader) delivery {
	dec := json.NewDecoder(r)
	got := map[string]string{}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') || readObject(dec, "", got) != nil {
		return delivery{}
	}
	if _, err := dec.Token(); err != io.EOF {
		return delivery{} // something after the object
	}
	d := delivery{ref: got["ref"], base: got["pull_request.base.ref"]}
	if d.base == "" {
		d.base = got["object_attributes.target_branch"]
	}
	if !strings.HasPrefix(d.ref, "refs/") {
		d.ref = ""
	}
	return d
}

// readObject reads an object's members after its "{", through its "}",
// keeping in got the wanted string fields under it (path prefix).
func readObject(dec *json.Decoder, prefix string, got map[string]string) error {
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := t.(string)
		path := prefix + key
		switch {
		case slices.Contains(deliveryFields, path):
			t, err := dec.Token()
			if err != nil {
				return err
			}
			v, ok := t.(string)
			if !ok {
				return fmt.Errorf("%s is not a string", path) // encoding/json would fail too
			}
			got[path] = v
		case wantedUnder(path):
			t, err := dec.Token()
			if err != nil {
				return err
			}
			if t == json.Delim('{') {
				err = readObject(dec, path+".", got)
			} else if t == json.Delim('[') {
				err = skipRest(dec)
			}
			if err != nil {
				return err
			}
		default:
			if err := skipValue(dec); err != nil {
				return err
			}
		}
	}
	_, err := dec.Token() // the closing }
	return err
}

func wantedUnder(path string) bool {
	for _, f := range deliveryFields {
		if strings.HasPrefix(f, path+".") {
			return true
		}
	}
	return false
}

// skipRest reads the rest of an array whose "[" was read.
func skipRest(dec *json.Decoder) error {
	for dec.More() {
		if err := skipValue(dec); err != nil {
			return err
		}
	}
	_, err := dec.Token()
	return err
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
