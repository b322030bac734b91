package secrets_test

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/secrets"
)

func TestEnvPrecedence(t *testing.T) {
	tests := []struct {
		name     string
		shared   map[string]string
		image    []string
		workload map[string]string
		want     []string
	}{
		{"no shared secrets: exactly the workload env", nil, []string{"A=img"}, map[string]string{"B": "w", "A": "w"}, []string{"A=w", "B=w"}},
		{"shared below workload", map[string]string{"A": "s"}, nil, map[string]string{"A": "w"}, []string{"A=w"}},
		{"shared below image ENV", map[string]string{"A": "s", "B": "s"}, []string{"A=img"}, nil, []string{"B=s"}},
		{"image ENV below workload", map[string]string{"A": "s"}, []string{"A=img"}, map[string]string{"A": "w"}, []string{"A=w"}},
		{"shared alone", map[string]string{"A": "s"}, []string{"PATH=/bin"}, nil, []string{"A=s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, secrets.Env(tc.shared, tc.image, tc.workload))
		})
	}
}

func TestLayerAppBeatsGlobal(t *testing.T) {
	files := []secrets.File{
		{Scope: secrets.ScopeGlobal, Name: "X", Sum: "g"},
		{Scope: secrets.ScopeGlobal, Name: "G", Sum: "g2"},
		{Scope: secrets.ScopeApp, App: "shop", Name: "X", Sum: "a"},
		{Scope: secrets.ScopeApp, App: "blog", Name: "B", Sum: "b"},
	}
	values := map[string]string{"g": "global", "g2": "global2", "a": "app", "b": "blog"}
	assert.Equal(t, map[string]string{"X": "app", "G": "global2"}, secrets.Layer(files, values, "shop"))
	assert.Equal(t, map[string]string{"X": "global", "G": "global2", "B": "blog"}, secrets.Layer(files, values, "blog"))
}

func TestEncryptDecryptAndResolverCache(t *testing.T) {
	idText, rcpt, err := secrets.Keygen()
	require.NoError(t, err)
	id, err := age.ParseX25519Identity(idText)
	require.NoError(t, err)
	rs, err := secrets.ParseRecipients([]string{rcpt})
	require.NoError(t, err)
	data, err := secrets.Encrypt([]byte("s3cret-value"), rs)
	require.NoError(t, err)
	assert.True(t, secrets.IsAgeFile(data))
	assert.False(t, secrets.IsAgeFile([]byte("plain")))

	red := secrets.NewRedactor()
	r := secrets.NewResolver([]age.Identity{id}, nil, red)
	files := []secrets.File{{Scope: secrets.ScopeGlobal, Name: "A", Sum: "sum1", Data: data}, {Scope: secrets.ScopeGlobal, Name: "BAD", Sum: "sum2", Data: []byte("age-encryption.org/v1\ngarbage")}}
	values, problems := r.Decrypt(files)
	assert.Equal(t, "s3cret-value", values["sum1"])
	require.Len(t, problems, 1)
	assert.Equal(t, "BAD", problems[0].File.Name)
	assert.Equal(t, "token=*** ok", red.Redact("token=s3cret-value ok"))

	// Cached by ciphertext: the same sum is not decrypted again (even
	// with the data gone).
	values, problems = r.Decrypt([]secrets.File{{Sum: "sum1"}})
	assert.Empty(t, problems)
	assert.Equal(t, "s3cret-value", values["sum1"])

	_, problems = secrets.NewResolver(nil, nil, red).Decrypt(files[:1])
	require.Len(t, problems, 1)
	assert.Contains(t, problems[0].Err.Error(), "no age identity")
}

func TestFingerprint(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	a := secrets.Fingerprint(k1, map[string]string{"A": "1"})
	assert.Equal(t, a, secrets.Fingerprint(k1, map[string]string{"A": "1"}))
	assert.NotEqual(t, a, secrets.Fingerprint(k1, map[string]string{"A": "2"}), "rotation moves it")
	assert.NotEqual(t, a, secrets.Fingerprint(k2, map[string]string{"A": "1"}), "keyed per state dir")
}

func TestLoadIdentities(t *testing.T) {
	dir := t.TempDir()
	idText, _, err := secrets.Keygen()
	require.NoError(t, err)
	good := filepath.Join(dir, "good")
	require.NoError(t, os.WriteFile(good, []byte(idText+"\n"), 0o600))
	ids, err := secrets.LoadIdentities([]string{good})
	require.NoError(t, err)
	assert.Len(t, ids, 1)

	open := filepath.Join(dir, "open")
	require.NoError(t, os.WriteFile(open, []byte(idText+"\n"), 0o644))
	_, err = secrets.LoadIdentities([]string{open})
	require.ErrorContains(t, err, "readable by others")

	junk := filepath.Join(dir, "junk")
	require.NoError(t, os.WriteFile(junk, []byte("not a key\n"), 0o600))
	_, err = secrets.LoadIdentities([]string{junk})
	require.ErrorContains(t, err, "not an age identity")

	_, err = secrets.ParseRecipients([]string{"age1nope"})
	require.Error(t, err)
}

func TestLogHandlerRedacts(t *testing.T) {
	red := secrets.NewRedactor()
	red.Add("hunter2hunter2")
	var buf bytes.Buffer
	log := slog.New(secrets.Handler(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), red))
	log.With("ctx", "x=hunter2hunter2").Debug("value hunter2hunter2", slog.Any("error", os.ErrNotExist), slog.String("out", "said hunter2hunter2"), slog.Group("g", slog.String("k", "hunter2hunter2")))
	assert.NotContains(t, buf.String(), "hunter2")
	assert.Equal(t, 4, strings.Count(buf.String(), "***"), buf.String())
}
