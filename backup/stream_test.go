package backup_test

import (
	"archive/tar"
	"bytes"
	"errors"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/backup"
)

const marker = "PLAINTEXT-MARKER-5f1c"

func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, body := range files {
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}))
		_, err := tw.Write([]byte(body))
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	return b.Bytes()
}

// A sealed snapshot opens to the same bytes with the identity, and to
// nothing without it; no plaintext byte is stored; a truncated or
// altered snapshot is refused.
func TestSealOpen(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	other, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	plain := tarOf(t, map[string]string{"db/data.txt": strings.Repeat(marker+"\n", 1000), "notes": "hello"})

	var sealed bytes.Buffer
	sum, err := backup.Seal(&sealed, bytes.NewReader(plain), []age.Recipient{id.Recipient()})
	require.NoError(t, err)
	assert.Equal(t, int64(len(plain)), sum.Size)
	assert.NotContains(t, sealed.String(), marker, "nothing readable without the identity")
	assert.Less(t, sealed.Len(), len(plain)/4, "compressed")

	var out bytes.Buffer
	require.NoError(t, backup.Open(&out, bytes.NewReader(sealed.Bytes()), []age.Identity{id}, sum))
	assert.Equal(t, plain, out.Bytes(), "byte-identical")

	err = backup.Open(&bytes.Buffer{}, bytes.NewReader(sealed.Bytes()), []age.Identity{other}, sum)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no identity can decrypt")

	truncated := sealed.Bytes()[:sealed.Len()*2/3]
	err = backup.Open(&bytes.Buffer{}, bytes.NewReader(truncated), []age.Identity{id}, sum)
	assert.True(t, errors.Is(err, backup.ErrCorrupt), "%v", err)

	wrong := sum
	wrong.SHA256 = strings.Repeat("0", 64)
	err = backup.Open(&bytes.Buffer{}, bytes.NewReader(sealed.Bytes()), []age.Identity{id}, wrong)
	assert.True(t, errors.Is(err, backup.ErrCorrupt), "%v", err)

	_, err = backup.Seal(&bytes.Buffer{}, bytes.NewReader(plain), nil)
	assert.ErrorContains(t, err, "secrets.recipients")
}
