package secrets_test

import (
	"bytes"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/berthops/berth/secrets"
)

// FuzzAgeFile feeds arbitrary secret files (headers, stanzas, armor) to
// Decrypt: it never panics, never returns a value for a file that is not a
// valid age file for the identity, and its errors never carry the
// plaintext of a valid file it was given part of. Run for real with:
// go test -fuzz=FuzzAgeFile -fuzztime=10m ./secrets/
func FuzzAgeFile(f *testing.F) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		f.Fatal(err)
	}
	const canary = "canary-value-7f3a"
	sealed, err := secrets.Encrypt([]byte(canary), []age.Recipient{id.Recipient()})
	if err != nil {
		f.Fatal(err)
	}
	other, _ := age.GenerateX25519Identity()
	toOther, err := secrets.Encrypt([]byte(canary), []age.Recipient{other.Recipient()})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add(toOther)
	f.Add(sealed[:len(sealed)/2])
	f.Add(bytes.ReplaceAll(sealed, []byte("\n"), []byte("\r\n")))
	f.Add([]byte("age-encryption.org/v1\n-> X25519 AAAA\n\n--- AAAA\n"))
	f.Add([]byte("age-encryption.org/v1\n-> scrypt c2FsdA 22\nAAAA\n--- AAAA\n"))
	f.Add([]byte("-----BEGIN AGE ENCRYPTED FILE-----\n!!!!\n-----END AGE ENCRYPTED FILE-----\n"))
	f.Add([]byte("plain text is not a secret file\n"))
	ids := []age.Identity{id}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := secrets.Decrypt(data, ids)
		if err != nil {
			if out != nil {
				t.Fatal("a value came back with an error")
			}
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("the error carries the plaintext: %v", err)
			}
			return
		}
		if !secrets.IsAgeFile(data) {
			t.Fatalf("decrypted a file IsAgeFile does not recognise: %q", data)
		}
	})
}
