package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/secrets"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/dockertest"
)

// TestPrivateRegistryLoginFromASharedSecret: berth.yaml's registries
// block logs in to an htpasswd-protected registry with a password that
// exists only as an age-encrypted shared secret, for a pull and for a
// build's base image; the password never reaches an event or SQLite.
func TestPrivateRegistryLoginFromASharedSecret(t *testing.T) {
	h := newHarness(t)
	h.CleanBuilt()
	const password = "CANARY-registry-5b1d-do-not-leak"
	reg := dockertest.RegistryWithLogin(t, "deploy", password)
	img := dockertest.Image(t, "private", "ENV FLAVOUR=private")
	app, base := reg+"/berth-test/private:app", reg+"/berth-test/private:base"
	dockertest.PushWithLogin(t, img, app, "deploy", password)
	dockertest.PushWithLogin(t, img, base, "deploy", password)

	keyFile := filepath.Join(t.TempDir(), "key.txt")
	rcpt := strings.TrimSpace(strings.Split(berthCLI(t, "", "secrets", "keygen", "--out", keyFile), "\n")[0])
	h.Repo.Write("berth.yaml", fmt.Sprintf("secrets:\n  recipients: [%s]\n", rcpt))
	berthCLI(t, password, "secrets", "set", "REGISTRY_TOKEN", "--dir", h.Repo.Dir)
	h.Workload("web", agenttest.Web(app, "pulled"))
	h.Repo.Write("apps/"+h.App+"/api/Dockerfile", "FROM "+base+"\n")
	h.Workload("api", "source:\n  type: dockerfile\n  context: api\n  deploy_strategy: recreate\nport: 8080\n")
	h.Repo.Push("private images, no login yet")

	red := secrets.NewRedactor()
	ids, err := secrets.LoadIdentities([]string{keyFile})
	require.NoError(t, err)
	key, err := secrets.LoadKey(filepath.Join(h.StateDir, "secret.key"))
	require.NoError(t, err)
	a, st := h.Agent(agent.Options{Secrets: secrets.NewResolver(ids, nil, red), SecretKey: key, Redactor: red})
	ctx := context.Background()
	res, err := a.Tick(ctx)
	require.ErrorIs(t, err, agent.ErrDeployFailed, "without a login the registry refuses")
	assert.ElementsMatch(t, []string{h.ID("web"), h.ID("api")}, res.Failed)

	h.Repo.Write("berth.yaml", fmt.Sprintf("secrets:\n  recipients: [%s]\nregistries:\n  - host: %s\n    username: deploy\n    password_secret: REGISTRY_TOKEN\n", rcpt, reg))
	h.Repo.Push("log in with the shared secret")
	res, err = a.Tick(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{h.ID("web"), h.ID("api")}, res.Deployed)
	row := agenttest.Rows(t, st)[h.ID("web")]
	assert.Contains(t, agenttest.Get(t, row.Upstream), "pulled")

	for _, ev := range agenttest.Events(t, st, "") {
		assert.NotContains(t, ev.Message, password)
		for _, v := range ev.Metadata {
			assert.NotContains(t, v, password)
		}
	}
	db, err := os.ReadFile(filepath.Join(h.StateDir, "berth.db"))
	require.NoError(t, err)
	assert.NotContains(t, string(db), password, "SQLite never holds the password")
}
