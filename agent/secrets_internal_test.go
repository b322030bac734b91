package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/sources"
)

func secretFile(t *testing.T, rcpt []age.Recipient, scope, app, name, value string) gitops.SecretFile {
	t.Helper()
	data, err := secrets.Encrypt([]byte(value), rcpt)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	return gitops.SecretFile{Scope: scope, App: app, Name: name, File: name + ".age", Sum: hex.EncodeToString(sum[:]), Data: data}
}

// TestSharedSecretLayers: each workload gets its app's layer over the
// global one, the layer's HMAC moves exactly the hashes of the workloads
// that get it, a broken secret is a warning naming it, and on_error: fail
// fails the workloads in its scope.
func TestSharedSecretLayers(t *testing.T) {
	idText, pub, err := secrets.Keygen()
	require.NoError(t, err)
	id, err := age.ParseX25519Identity(idText)
	require.NoError(t, err)
	rcpt, err := secrets.ParseRecipients([]string{pub})
	require.NoError(t, err)
	render := func(apiKey string, extra ...gitops.SecretFile) (*gitops.Desired, *sharedSecrets, []secretWarning) {
		shop, blog := workload("shop/web", "nginx:1", map[string]string{"X": "workload"}), workload("blog/web", "nginx:1", nil)
		d := &gitops.Desired{Workloads: []*sources.Workload{blog, shop}, Secrets: append([]gitops.SecretFile{
			secretFile(t, rcpt, secrets.ScopeGlobal, "", "X", "global"),
			secretFile(t, rcpt, secrets.ScopeApp, "shop", "API_KEY", apiKey),
		}, extra...)}
		s := &sharedSecrets{resolver: secrets.NewResolver([]age.Identity{id}, nil, secrets.NewRedactor()), key: []byte("k")}
		return d, s, s.apply(d)
	}
	d1, s1, warns := render("one")
	assert.Empty(t, warns)
	blog, shop := d1.Workloads[0], d1.Workloads[1]
	assert.Equal(t, []string{"X=global"}, s1.env(blog, nil), "global secrets reach every app")
	assert.Equal(t, []string{"API_KEY=one", "X=workload"}, s1.env(shop, nil), "workload env beats shared secrets")
	assert.Equal(t, []string{"X=global"}, s1.env(blog, []string{"PATH=/bin"}))
	assert.NotContains(t, s1.env(blog, []string{"X=image"}), "X=global", "the image's own ENV beats shared secrets")

	d2, _, _ := render("two")
	assert.Equal(t, blog.Hash, d2.Workloads[0].Hash, "blog does not get API_KEY: no redeploy")
	assert.NotEqual(t, shop.Hash, d2.Workloads[1].Hash, "rotating API_KEY redeploys shop")
	for _, s := range s1.list() {
		assert.True(t, s.HasValue)
	}

	broken := gitops.SecretFile{Scope: secrets.ScopeApp, App: "shop", Name: "BROKEN", File: "apps/shop/secrets/BROKEN.age", Sum: "x", Data: []byte("age-encryption.org/v1\n-> X25519 nope\n")}
	d3, s3, warns := render("one", broken)
	require.Len(t, warns, 1)
	assert.Contains(t, warns[0].msg, "BROKEN (app shop)")
	assert.Empty(t, s3.failure("shop/web"), "best effort by default")
	d3.Repo.Secrets.OnError = "fail"
	s3.apply(d3)
	assert.Contains(t, s3.failure("shop/web"), "BROKEN (app shop) could not be used")
	assert.Empty(t, s3.failure("blog/web"), "only the broken secret's scope fails")
}
