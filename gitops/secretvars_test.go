package gitops_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A compose file that requires a shared secret (${NAME:?}) validates when
// the secret is in the workload's scope — global or its app's — as the
// agent, which decrypts it, would deploy it; without the secret, validate
// names the variable.
func TestValidateSeesSharedSecretNames(t *testing.T) {
	compose := "services:\n  web:\n    image: nginx\n    environment:\n      DB: ${DB_PASSWORD:?set the DB_PASSWORD secret}\n      KEY: ${API_KEY:?}\n"
	files := map[string][]byte{
		"apps/shop/stack.yaml":          []byte("source:\n  type: compose\n  file: stack/compose.yml\n"),
		"apps/shop/stack/compose.yml":   []byte(compose),
		"secrets/DB_PASSWORD.age":       []byte("age-encryption.org/v1\n"),
		"apps/shop/secrets/API_KEY.age": []byte("age-encryption.org/v1\n"),
		// Another app's secret is not in shop's scope.
		"apps/bank/secrets/OTHER.age": []byte("age-encryption.org/v1\n"),
		"apps/bank/stack.yaml":        []byte("source:\n  type: compose\n  file: stack/compose.yml\n"),
		"apps/bank/stack/compose.yml": []byte("services:\n  web:\n    image: nginx\n    environment:\n      X: ${API_KEY:?}\n"),
	}
	d := load(t, writeRepo(t, files))
	require.Len(t, d.Workloads, 1, "%v", d.Invalid)
	assert.Equal(t, "shop/stack", d.Workloads[0].ID())
	require.Len(t, d.Invalid, 1)
	assert.Equal(t, "bank/stack", d.Invalid[0].ID)
	assert.Contains(t, d.Invalid[0].Err().Error(), "API_KEY")
}
