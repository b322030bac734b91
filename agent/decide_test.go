package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/gitops"
	"github.com/berthops/berth/router"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
	"github.com/berthops/berth/sources/image"
)

// workload is a valid image workload with a computed hash.
func workload(id, img string, env map[string]string) *sources.Workload {
	app, name := splitID(id)
	w := &sources.Workload{App: app, Name: name, Spec: sources.Spec{Source: &image.Config{Image: img}, Env: env, Port: 8080}}
	w.Hash = gitops.Hash(w)
	return w
}

func splitID(id string) (string, string) {
	for i := range id {
		if id[i] == '/' {
			return id[:i], id[i+1:]
		}
	}
	return id, ""
}

func container(id, workload, state string, port int) docker.Container {
	return docker.Container{ID: id, Name: "berth-" + id, State: state, HostPort: port,
		Labels: map[string]string{docker.LabelWorkload: workload}}
}

// applied is the row of a workload that serves w in container cid.
func applied(w *sources.Workload, cid string) store.Runtime {
	return store.Runtime{WorkloadID: w.ID(), ContainerID: cid, ContainerName: "berth-" + cid, AppliedHash: w.Hash,
		Status: store.StatusRunning, LastDeploy: store.DeploySucceeded, Upstream: "127.0.0.1:1000", AppliedSpec: gitops.Fields(w, true)}
}

func TestWhyDeploy(t *testing.T) {
	v1 := workload("shop/web", "nginx:1", map[string]string{"A": "1"})
	v2 := workload("shop/web", "nginx:2", map[string]string{"A": "2"})
	running := []docker.Container{container("c1", "shop/web", "running", 1000)}
	stack := &sources.Workload{App: "shop", Name: "stack", Spec: sources.Spec{Source: &compose.Config{File: "c.yml"}}}
	stack.Hash = gitops.Hash(stack)
	stackRow := store.Runtime{WorkloadID: "shop/stack", Kind: "compose", AppliedHash: stack.Hash, LastDeploy: store.DeploySucceeded}
	noSpec := applied(v1, "c1")
	noSpec.AppliedSpec = nil
	failed := applied(v1, "c1")
	failed.LastDeploy = store.DeployFailed
	invalidOnly := store.Runtime{WorkloadID: "shop/web", LastDeploy: store.DeployInvalid}

	tests := []struct {
		name     string
		w        *sources.Workload
		row      store.Runtime
		hasRow   bool
		cs       []docker.Container
		selfHeal bool
		want     Why
		deploy   bool
	}{
		{name: "never deployed", w: v1, want: Why{Kind: WhyNew}, deploy: true},
		{name: "only ever invalid", w: v1, row: invalidOnly, hasRow: true, want: Why{Kind: WhyNew}, deploy: true},
		{name: "changed: which fields", w: v2, row: applied(v1, "c1"), hasRow: true, cs: running,
			want: Why{Kind: WhyChanged, Fields: []string{"env.A", "source.image"}}, deploy: true},
		{name: "changed, spec unknown", w: v2, row: noSpec, hasRow: true, cs: running, want: Why{Kind: WhyChanged}, deploy: true},
		{name: "unchanged", w: v1, row: applied(v1, "c1"), hasRow: true, cs: running, selfHeal: true},
		{name: "failed: retry", w: v1, row: failed, hasRow: true, cs: running, want: Why{Kind: WhyRetry}, deploy: true},
		{name: "vanished, self-heal", w: v1, row: applied(v1, "c1"), hasRow: true, selfHeal: true, want: Why{Kind: WhyVanished}, deploy: true},
		{name: "vanished, no self-heal", w: v1, row: applied(v1, "c1"), hasRow: true},
		{name: "another container than the row's", w: v1, row: applied(v1, "c9"), hasRow: true, cs: running, selfHeal: true, want: Why{Kind: WhyVanished}, deploy: true},
		{name: "stack gone, self-heal", w: stack, row: stackRow, hasRow: true, selfHeal: true, want: Why{Kind: WhyVanished}, deploy: true},
		{name: "stack running", w: stack, row: stackRow, hasRow: true, cs: []docker.Container{container("s1", "shop/stack", "running", 0)}, selfHeal: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			why, deploy := whyDeploy(tc.w, tc.row, tc.hasRow, tc.cs, tc.selfHeal)
			assert.Equal(t, tc.deploy, deploy)
			if tc.deploy {
				assert.Equal(t, tc.want, why)
			}
		})
	}
}

func TestWhyString(t *testing.T) {
	tests := []struct {
		why  Why
		want string
	}{
		{Why{Kind: WhyNew}, "new workload"},
		{Why{Kind: WhyChanged}, "config changed"},
		{Why{Kind: WhyChanged, Fields: []string{"env.A", "source.image"}}, "config changed: env.A, source.image"},
		{Why{Kind: WhyChanged, Fields: []string{"a", "b", "c", "d", "e", "f", "g", "h"}}, "config changed: a, b, c, d, e, f and 2 more"},
		{Why{Kind: WhyRetry}, "retrying the last failed deploy"},
		{Why{Kind: WhyVanished}, "its container vanished (self-heal)"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.why.String())
		})
	}
}

func TestDrifted(t *testing.T) {
	w := workload("shop/web", "nginx:1", nil)
	row := applied(w, "c1")
	failed := row
	failed.LastDeploy = store.DeployFailed
	now := time.Now()
	backingOff := row
	backingOff.LastDeploy, backingOff.FailedHash, backingOff.RetryAt = store.DeployRolledBack, "h2", now.Add(time.Minute)
	due := backingOff
	due.RetryAt = now.Add(-time.Second)
	stopped := container("c1", "shop/web", "exited", 0)
	suspended := row
	suspended.Suspended = true
	stackRow := store.Runtime{WorkloadID: "shop/stack", Kind: "compose", AppliedHash: "h1"}
	stackC := container("s1", "shop/stack", "running", 0)
	stackC.Labels[docker.LabelHash] = "h1"
	oldStackC := container("s2", "shop/stack", "running", 0)
	oldStackC.Labels[docker.LabelHash] = "h0"
	tests := []struct {
		name     string
		rows     []store.Runtime
		cs       []docker.Container
		selfHeal bool
		want     bool
	}{
		{"in step", []store.Runtime{row}, []docker.Container{container("c1", "shop/web", "running", 1)}, true, false},
		{"failed deploy to retry", []store.Runtime{failed}, []docker.Container{container("c1", "shop/web", "running", 1)}, true, true},
		{"backing off: idle", []store.Runtime{backingOff}, []docker.Container{container("c1", "shop/web", "running", 1)}, true, false},
		{"retry due", []store.Runtime{due}, []docker.Container{container("c1", "shop/web", "running", 1)}, true, true},
		{"serving container stopped", []store.Runtime{row}, []docker.Container{stopped}, true, true},
		{"suspended and gone", []store.Runtime{suspended}, nil, true, false},
		{"vanished with self-heal", []store.Runtime{row}, nil, true, true},
		{"vanished without self-heal", []store.Runtime{row}, nil, false, false},
		{"leftover copy", []store.Runtime{row}, []docker.Container{container("c1", "shop/web", "running", 1), container("c2", "shop/web", "running", 2)}, false, true},
		{"container without a row", nil, []docker.Container{container("c1", "shop/web", "running", 1)}, false, true},
		{"stack in step", []store.Runtime{stackRow}, []docker.Container{stackC}, true, false},
		{"stack with an old container", []store.Runtime{stackRow}, []docker.Container{oldStackC}, true, true},
		{"stack gone with self-heal", []store.Runtime{stackRow}, nil, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, drifted(newSnapshot(tc.rows, tc.cs), tc.selfHeal, now))
		})
	}
}

func TestObserve(t *testing.T) {
	w := workload("shop/web", "nginx:1", nil)
	row := applied(w, "c1")
	invalid := row
	invalid.LastDeploy, invalid.Message = store.DeployInvalid, "bad"
	missing := row
	missing.Status = store.StatusMissing
	tests := []struct {
		name                  string
		row                   store.Runtime
		cs                    []docker.Container
		valid                 *sources.Workload
		wantStatus, wantLast  string
		wantUp                string
		write, changed, gone  bool
		stackRowKindIsCompose bool
	}{
		{name: "running, unchanged", row: row, cs: []docker.Container{container("c1", "shop/web", "running", 1000)}, valid: w,
			wantStatus: "running", wantLast: "succeeded", wantUp: "127.0.0.1:1000"},
		{name: "new port after a restart", row: row, cs: []docker.Container{container("c1", "shop/web", "running", 2000)}, valid: w,
			wantStatus: "running", wantLast: "succeeded", wantUp: "127.0.0.1:2000", write: true},
		{name: "exited", row: row, cs: []docker.Container{container("c1", "shop/web", "exited", 0)}, valid: w,
			wantStatus: "exited", wantLast: "succeeded", wantUp: "127.0.0.1:1000", write: true, changed: true},
		{name: "vanished", row: row, valid: w, wantStatus: "missing", wantLast: "succeeded", wantUp: "127.0.0.1:1000", write: true, changed: true, gone: true},
		{name: "still missing: no new event", row: missing, valid: w, wantStatus: "missing", wantLast: "succeeded", wantUp: "127.0.0.1:1000"},
		{name: "valid again", row: invalid, cs: []docker.Container{container("c1", "shop/web", "running", 1000)}, valid: w,
			wantStatus: "running", wantLast: "succeeded", wantUp: "127.0.0.1:1000", write: true},
		{name: "still invalid", row: invalid, cs: []docker.Container{container("c1", "shop/web", "running", 1000)},
			wantStatus: "running", wantLast: "invalid", wantUp: "127.0.0.1:1000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ob := observe(tc.row, tc.cs, tc.valid)
			assert.Equal(t, tc.wantStatus, ob.next.Status)
			assert.Equal(t, tc.wantLast, ob.next.LastDeploy)
			assert.Equal(t, tc.wantUp, ob.next.Upstream)
			assert.Equal(t, tc.write, ob.write, "write")
			assert.Equal(t, tc.changed, ob.changed, "changed")
			assert.Equal(t, tc.gone, ob.missing, "missing")
		})
	}
}

func TestStackStatus(t *testing.T) {
	assert.Equal(t, store.StatusMissing, stackStatus(nil))
	assert.Equal(t, store.StatusRunning, stackStatus([]docker.Container{container("a", "x/y", "running", 0)}))
	assert.Equal(t, store.StatusDegraded, stackStatus([]docker.Container{container("a", "x/y", "running", 0), container("b", "x/y", "exited", 0)}))
}

func TestDecideObservationsLeftoversAndRoutes(t *testing.T) {
	w := workload("shop/web", "nginx:1", nil)
	w.Route = &sources.Route{Hosts: []string{"shop.test"}}
	row := applied(w, "c1")
	s := newSnapshot([]store.Runtime{row}, []docker.Container{container("c1", "shop/web", "running", 1000), container("c2", "shop/web", "exited", 0)})
	valid := map[string]*sources.Workload{"shop/web": w}

	idle := decideObservations(s, valid, nil, decideOptions{routes: map[string]router.Route{}})
	require.Len(t, idle, 1)
	assert.Empty(t, idle[0].leftovers, "an idle tick only watches")
	require.NotNil(t, idle[0].route, "a missing route is restored")
	assert.Equal(t, router.Route{ID: "shop/web", Hosts: []string{"shop.test"}, Upstream: "127.0.0.1:1000"}, idle[0].route.route)

	full := decideObservations(s, valid, nil, decideOptions{cleanup: true, routes: map[string]router.Route{
		"shop/web": {ID: "shop/web", Hosts: []string{"shop.test"}, Upstream: "127.0.0.1:1000"}}})
	require.Len(t, full, 1)
	require.Len(t, full[0].leftovers, 1)
	assert.Equal(t, "c2", full[0].leftovers[0].ID)
	assert.Nil(t, full[0].route, "the route already points at the row's container")

	assert.Empty(t, decideObservations(s, valid, map[string]bool{"shop/web": true}, decideOptions{cleanup: true}), "a deployed workload is not observed")
	assert.Empty(t, decideObservations(s, nil, nil, decideOptions{cleanup: true, routes: map[string]router.Route{}}),
		"an invalid workload keeps its containers and route")
}

func TestRouteFix(t *testing.T) {
	routed := workload("shop/web", "nginx:1", nil)
	routed.Route = &sources.Route{Hosts: []string{"a.test"}}
	unrouted := workload("shop/web", "nginx:1", nil)
	cur := router.Route{ID: "shop/web", Hosts: []string{"a.test"}, Upstream: "127.0.0.1:1"}
	tests := []struct {
		name     string
		w        *sources.Workload
		upstream string
		routes   map[string]router.Route
		want     *routeFix
	}{
		{"in step", routed, "127.0.0.1:1", map[string]router.Route{"shop/web": cur}, nil},
		{"new upstream", routed, "127.0.0.1:2", map[string]router.Route{"shop/web": cur},
			&routeFix{route: router.Route{ID: "shop/web", Hosts: []string{"a.test"}, Upstream: "127.0.0.1:2"}}},
		{"missing route", routed, "127.0.0.1:1", map[string]router.Route{}, &routeFix{route: cur}},
		{"route block removed", unrouted, "127.0.0.1:1", map[string]router.Route{"shop/web": cur}, &routeFix{remove: true, route: cur}},
		{"no upstream yet", routed, "", map[string]router.Route{}, nil},
		{"invalid file, in step", nil, "127.0.0.1:1", map[string]router.Route{"shop/web": cur}, nil},
		{"invalid file, new port after a Docker restart", nil, "127.0.0.1:2", map[string]router.Route{"shop/web": cur},
			&routeFix{route: router.Route{ID: "shop/web", Hosts: []string{"a.test"}, Upstream: "127.0.0.1:2"}}},
		{"invalid file, never routed", nil, "127.0.0.1:2", map[string]router.Route{}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, routeFollows("shop/web", tc.w, tc.upstream, tc.routes, false))
		})
	}
}

func TestDecidePrune(t *testing.T) {
	rows := []store.Runtime{{WorkloadID: "a/x"}, {WorkloadID: "a/y"}}
	stackC := container("s1", "b/stack", "running", 0)
	stackC.Labels["com.docker.compose.project"] = "berth-b-stack"
	cs := []docker.Container{container("c1", "a/x", "running", 1), stackC}
	tests := []struct {
		name        string
		declared    map[string]bool
		allowEmpty  bool
		wantIDs     []string
		wantRefused int
	}{
		{"nothing gone", map[string]bool{"a/x": true, "a/y": true, "b/stack": true}, false, nil, 0},
		{"one file removed", map[string]bool{"a/x": true, "b/stack": true}, false, []string{"a/y"}, 0},
		{"an unknown container", map[string]bool{"a/x": true, "a/y": true}, false, []string{"b/stack"}, 0},
		{"repo emptied: refused", map[string]bool{}, false, nil, 3},
		{"repo emptied, allowed", map[string]bool{}, true, []string{"a/x", "a/y", "b/stack"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps, refused := decidePrune(tc.declared, newSnapshot(rows, cs), tc.allowEmpty)
			var ids []string
			for _, p := range ps {
				ids = append(ids, p.id)
				if p.id == "b/stack" {
					assert.Equal(t, "berth-b-stack", p.project, "a stack is pruned through compose")
				}
			}
			assert.Equal(t, tc.wantIDs, ids)
			assert.Equal(t, tc.wantRefused, refused)
		})
	}
}

func TestDecideInvalidReportsOncePerContent(t *testing.T) {
	inv := &gitops.InvalidWorkload{ID: "shop/web", File: "apps/shop/web.yaml", Errs: []error{&gitops.ConfigError{File: "apps/shop/web.yaml", Line: 2, Col: 3, Field: "port", Msg: "bad"}}}
	marks := decideInvalid([]*gitops.InvalidWorkload{inv}, newSnapshot(nil, nil))
	require.Len(t, marks, 1)
	assert.Equal(t, store.DeployInvalid, marks[0].row.LastDeploy)
	assert.Equal(t, store.StatusInvalid, marks[0].row.Status, "a workload never deployed is invalid")

	reported := newSnapshot([]store.Runtime{marks[0].row}, nil)
	assert.Empty(t, decideInvalid([]*gitops.InvalidWorkload{inv}, reported), "the same error is not reported twice")

	running := store.Runtime{WorkloadID: "shop/web", ContainerID: "c1", Status: store.StatusRunning, LastDeploy: store.DeploySucceeded}
	marks = decideInvalid([]*gitops.InvalidWorkload{inv}, newSnapshot([]store.Runtime{running}, nil))
	require.Len(t, marks, 1)
	assert.Equal(t, "c1", marks[0].row.ContainerID, "the running version keeps running")
	assert.Equal(t, store.StatusRunning, marks[0].row.Status)
}

func TestDecideWholePlan(t *testing.T) {
	web := workload("shop/web", "nginx:2", nil)
	api := workload("shop/api", "nginx:1", nil)
	oldWeb := workload("shop/web", "nginx:1", nil)
	d := &gitops.Desired{Workloads: []*sources.Workload{api, web},
		Invalid: []*gitops.InvalidWorkload{{ID: "shop/bad", File: "apps/shop/bad.yaml", Errs: []error{&gitops.ConfigError{File: "apps/shop/bad.yaml", Msg: "x"}}}}}
	s := newSnapshot(
		[]store.Runtime{applied(api, "a1"), applied(oldWeb, "w1"), {WorkloadID: "shop/gone", ContainerID: "g1"}},
		[]docker.Container{container("a1", "shop/api", "running", 1000), container("w1", "shop/web", "running", 1001), container("g1", "shop/gone", "running", 1002)})
	p := decide(d, s, decideOptions{selfHeal: true, cleanup: true})
	require.Len(t, p.deploys, 1)
	assert.Equal(t, "shop/web", p.deploys[0].w.ID())
	assert.Equal(t, Why{Kind: WhyChanged, Fields: []string{"source.image"}}, p.deploys[0].why)
	assert.Len(t, p.deploys[0].old, 1, "the deploy replaces the running container")
	require.Len(t, p.invalid, 1)
	assert.Equal(t, "shop/bad", p.invalid[0].inv.ID)
	require.Len(t, p.prune, 1)
	assert.Equal(t, "shop/gone", p.prune[0].id)
	for _, ob := range p.observe {
		assert.NotEqual(t, "shop/web", ob.id, "the deployed workload is not observed in the same tick")
	}
}
