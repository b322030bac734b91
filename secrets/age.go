// Package secrets handles Berth's shared secrets: age-encrypted files in the
// config repo, decrypted in memory only, layered into container env below
// the image's and the workload's own values, and kept out of every log,
// event, database row and error by a redactor.
package secrets

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"filippo.io/age/armor"
)

const ageHeader = "age-encryption.org/v1"

// IsAgeFile reports whether data is an age file, binary or armored.
func IsAgeFile(data []byte) bool {
	return bytes.HasPrefix(data, []byte(ageHeader+"\n")) || bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(armor.Header))
}

// Keygen makes a new X25519 identity: the secret key text (an age identity
// file's content) and its public recipient.
func Keygen() (identity, recipient string, err error) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return "", "", err
	}
	return id.String(), id.Recipient().String(), nil
}

// ParseRecipients parses age public keys.
func ParseRecipients(keys []string) ([]age.Recipient, error) {
	var out []age.Recipient
	for _, k := range keys {
		r, err := age.ParseX25519Recipient(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("recipient %q: %w", k, err)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New("no recipients: add age public keys to secrets.recipients in berth.yaml")
	}
	return out, nil
}

// Encrypt encrypts value to the recipients as an armored age file.
func Encrypt(value []byte, recipients []age.Recipient) ([]byte, error) {
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	w, err := age.Encrypt(aw, recipients...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(value); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	if err := aw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Decrypt decrypts an age file (binary or armored).
func Decrypt(data []byte, ids []age.Identity) ([]byte, error) {
	if len(ids) == 0 {
		return nil, errors.New("no identity to decrypt with (--identity)")
	}
	var src io.Reader = bytes.NewReader(data)
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte(armor.Header)) {
		src = armor.NewReader(bytes.NewReader(bytes.TrimLeft(data, " \t\r\n")))
	}
	r, err := age.Decrypt(src, ids...)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// LoadIdentities reads age identity files. A file that others can read is
// refused: it holds the key to every secret.
func LoadIdentities(paths []string) ([]age.Identity, error) {
	var out []age.Identity
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("identity file: %w", err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("identity file %s is readable by others (mode %#o): chmod 600 it", p, info.Mode().Perm())
		}
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("identity file: %w", err)
		}
		ids, err := age.ParseIdentities(bufio.NewReader(f))
		_ = f.Close()
		if err != nil {
			return nil, fmt.Errorf("identity file %s is not an age identity: %w", p, err)
		}
		out = append(out, ids...)
	}
	return out, nil
}
