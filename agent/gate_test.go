package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/loopback"
)

// slowBoot is a routed blue-green workload without a healthcheck whose
// server listens only after delay (a JVM, migrations on boot).
func slowBoot(image, host, msg, delay string) string {
	return fmt.Sprintf(`source:
  type: image
  image: %s
env:
  MESSAGE: %q
  LISTEN_DELAY: %q
port: 8080
route:
  hosts: [%s]
`, image, msg, delay, host)
}

// TestSlowBootGetsTheRouteOnlyOnceItAnswers: without a healthcheck the
// gate waits for the port to answer HTTP, so a server that boots for 3 s
// (ten times the liveness window here) is swapped in with no failed
// request, and the deploy event says what the gate saw.
func TestSlowBootGetsTheRouteOnlyOnceItAnswers(t *testing.T) {
	h := newHarness(t)
	rt, proxy := h.EmbeddedRouter()
	host := h.App + ".test"
	h.Workload("web", slowBoot(h.Image, host, "v0", "0s"))
	a, st := h.Start("v0", agent.Options{Router: rt})

	l := agenttest.StartLoad(proxy, host)
	h.Workload("web", slowBoot(h.Image, host, "v1", "3s"))
	h.Repo.Push("v1 boots slowly")
	res, err := a.Tick(context.Background())
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	l.Finish()
	assert.Zero(t, l.Failed.Load(), "failed requests while a slow boot was swapped in (first: %v)", l.FirstError())
	assert.Greater(t, l.OK.Load(), int64(50))

	timing := res.Timings[h.ID("web")]
	assert.Equal(t, "blue-green", string(timing.Strategy))
	assert.GreaterOrEqual(t, timing.Ready.Sub(timing.Started), 3*time.Second, "the gate waited for the server to listen")
	body, err := loopback.Get(http.DefaultClient, proxy, host)
	require.NoError(t, err)
	assert.Contains(t, body, "v1")
	ev := agenttest.Events(t, st, h.ID("web"))
	last := ev[len(ev)-1]
	require.Equal(t, string(agent.KindDeploySucceeded), last.Kind)
	assert.Regexp(t, `^GET / answered 200 OK after [3-9](\.\d)?s, then stayed up 300ms$`, last.Metadata["gate"])
}
