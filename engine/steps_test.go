package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/policy"
	"github.com/berthops/berth/router"
	"github.com/berthops/berth/sources"
	"github.com/berthops/berth/sources/compose"
	"github.com/berthops/berth/sources/image"
)

// These tests pin the exact order of each strategy's steps, and of the
// revert at each failure point, against a recording fake of the Docker
// calls (no daemon). The real-Docker tests in agent/ prove the same
// transactions end to end.

var errBoom = errors.New("boom")

// recorder is a ContainerRunner, a router and a stack tool that writes
// down every call that changes something, and fails the one named in
// fail ("start new", "route new", "persist", "up v2" …).
type recorder struct {
	mu      sync.Mutex
	steps   []string
	fail    string
	exited  map[string]bool // containers that die right after they start
	ports   map[int]string  // host port → container id, for route steps
	servers map[string]int  // container id → the host port of its server
	created int
}

func (r *recorder) step(s string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.steps = append(r.steps, s)
	if s == r.fail {
		return fmt.Errorf("%s: %w", s, errBoom)
	}
	return nil
}

func (r *recorder) Create(_ context.Context, spec docker.RunSpec) (string, error) {
	if spec.Task {
		return "task", r.step("create task")
	}
	r.created++
	id := "new"
	if r.created > 1 {
		id = fmt.Sprintf("new%d", r.created)
	}
	return id, r.step("create " + id)
}

// RunTask runs a task container; "run task" in fail makes it exit 3.
func (r *recorder) RunTask(_ context.Context, id string, _, _ time.Duration) (docker.TaskResult, error) {
	if err := r.step("run " + id); err != nil {
		return docker.TaskResult{ExitCode: 3}, nil
	}
	return docker.TaskResult{}, nil
}

func (r *recorder) container(id string) docker.Container {
	state := "running"
	if r.exited[id] {
		state = "exited"
	}
	return docker.Container{ID: id, Name: id, State: state, HostPort: r.servers[id]}
}

func (r *recorder) Start(_ context.Context, id string, _ int) (docker.Container, error) {
	if err := r.step("start " + id); err != nil {
		return docker.Container{}, err // the adapter removes a container that did not start
	}
	return r.container(id), nil
}

func (r *recorder) Stop(_ context.Context, id string, _ time.Duration) error {
	return r.step("stop " + id)
}

func (r *recorder) Remove(_ context.Context, id string, _ time.Duration) error {
	return r.step("remove " + id)
}

func (r *recorder) Rename(_ context.Context, id, name string) error {
	return r.step("rename " + id + " " + name)
}

func (r *recorder) Inspect(_ context.Context, id string, _ int) (docker.Container, error) {
	return r.container(id), nil
}

func (r *recorder) Restart(_ context.Context, id string, _ int) (docker.Container, error) {
	if err := r.step("restart " + id); err != nil {
		return docker.Container{}, err
	}
	return r.container(id), nil
}

func (r *recorder) Upsert(_ context.Context, rt router.Route) error {
	_, port, _ := net.SplitHostPort(rt.Upstream)
	var p int
	_, _ = fmt.Sscan(port, &p)
	return r.step("route " + r.ports[p])
}

func (r *recorder) persist(_ context.Context, c docker.Container) error {
	return r.step("persist " + c.Name)
}

// The stack tool's side.
func (r *recorder) name(w *sources.Workload) string { return "berth-" + sources.Slug(w) }
func (r *recorder) own(context.Context, *Engine, *sources.Workload, string) error {
	return r.step("own")
}
func (r *recorder) up(_ context.Context, _ *Engine, p *types.Project, _ map[string]string, _ bool) error {
	return r.step("up " + filepath.Base(p.WorkingDir) + " " + p.Services["web"].Image)
}
func (r *recorder) remove(_ context.Context, name string) error { return r.step("down " + name) }
func (r *recorder) revertable(error) bool                       { return true }

// serve starts a real HTTP server on loopback answering 200, as the
// container id would, and returns its port.
func (r *recorder) serve(t testing.TB, id string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	var p int
	_, _ = fmt.Sscan(port, &p)
	r.ports[p], r.servers[id] = id, p
}

func newRecorder(t testing.TB) *recorder {
	r := &recorder{exited: map[string]bool{}, ports: map[int]string{}, servers: map[string]int{}}
	r.serve(t, "blue")
	r.serve(t, "new")
	return r
}

func recordingEngine(r *recorder) *Engine {
	e := New(r, "test", slog.New(slog.NewTextHandler(io.Discard, nil)), Options{
		Router: r, LivenessWindow: time.Millisecond, Drain: -1,
	})
	e.stacks = map[sources.Kind]stackTool{sources.KindCompose: r}
	return e
}

func routedWorkload() *sources.Workload {
	w := &sources.Workload{App: "shop", Name: "web", Hash: "0123456789abcdef"}
	w.Source = &image.Config{Image: "shop/web:2"}
	w.Port = 8080
	w.Route = &sources.Route{Hosts: []string{"shop.test"}}
	return w
}

func TestStepOrder(t *testing.T) {
	tests := []struct {
		name     string
		strategy sources.Strategy
		fail     string // the step that fails
		gateDies bool   // the new container exits before the gate decides
		steps    []string
		want     error // the outcome marker, nil for success
	}{
		{"blue-green", sources.StrategyBlueGreen, "", false,
			[]string{"create new", "start new", "route new", "persist new", "remove blue"}, nil},
		{"blue-green create fails", sources.StrategyBlueGreen, "create new", false,
			[]string{"create new"}, ErrStillServing},
		{"blue-green start fails", sources.StrategyBlueGreen, "start new", false,
			[]string{"create new", "start new"}, ErrStillServing},
		{"blue-green gate fails", sources.StrategyBlueGreen, "", true,
			[]string{"create new", "start new", "remove new"}, ErrStillServing},
		{"blue-green route fails", sources.StrategyBlueGreen, "route new", false,
			[]string{"create new", "start new", "route new", "remove new"}, ErrStillServing},
		{"blue-green persist fails", sources.StrategyBlueGreen, "persist new", false,
			[]string{"create new", "start new", "route new", "persist new", "route blue", "remove new"}, ErrStillServing},

		{"recreate", sources.StrategyRecreate, "", false,
			[]string{"create new", "stop blue", "start new", "route new", "persist new", "remove blue", "rename new berth-shop_web", "persist berth-shop_web"}, nil},
		{"recreate create fails", sources.StrategyRecreate, "create new", false,
			[]string{"create new"}, ErrStillServing},
		{"recreate stop fails", sources.StrategyRecreate, "stop blue", false,
			[]string{"create new", "stop blue", "remove new", "restart blue", "route blue"}, ErrReverted},
		{"recreate start fails", sources.StrategyRecreate, "start new", false,
			[]string{"create new", "stop blue", "start new", "restart blue", "route blue"}, ErrReverted},
		{"recreate gate fails", sources.StrategyRecreate, "", true,
			[]string{"create new", "stop blue", "start new", "remove new", "restart blue", "route blue"}, ErrReverted},
		{"recreate route fails", sources.StrategyRecreate, "route new", false,
			[]string{"create new", "stop blue", "start new", "route new", "remove new", "restart blue", "route blue"}, ErrReverted},
		{"recreate persist fails", sources.StrategyRecreate, "persist new", false,
			[]string{"create new", "stop blue", "start new", "route new", "persist new", "remove new", "restart blue", "route blue"}, ErrReverted},
		{"recreate revert cannot restart", sources.StrategyRecreate, "restart blue", true,
			[]string{"create new", "stop blue", "start new", "remove new", "restart blue"}, ErrRevertFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecorder(t)
			r.fail, r.exited["new"] = tt.fail, tt.gateDies
			e := recordingEngine(r)
			blue := r.container("blue")
			res, err := e.Deploy(context.Background(), Deployment{
				Workload: routedWorkload(), Decision: sources.Decision{Strategy: tt.strategy},
				Image: "shop/web:2", Old: []docker.Container{blue}, Current: &blue, Persist: r.persist,
			})
			assert.Equal(t, tt.steps, r.steps)
			if tt.want == nil {
				require.NoError(t, err)
				assert.Equal(t, "new", res.Container.ID)
				return
			}
			require.ErrorIs(t, err, tt.want)
			if tt.want == ErrReverted {
				assert.Equal(t, "blue", res.RevertedTo.ID, "the result names the container serving again")
				assert.True(t, res.Reverted)
			}
		})
	}
}

// A first deploy that fails has nothing to revert to: the new container
// goes and nothing else is touched.
func TestStepOrderFirstDeployFails(t *testing.T) {
	r := newRecorder(t)
	r.exited["new"] = true
	_, err := recordingEngine(r).Deploy(context.Background(), Deployment{
		Workload: routedWorkload(), Decision: sources.Decision{Strategy: sources.StrategyRecreate},
		Image: "shop/web:1", Persist: r.persist,
	})
	require.ErrorIs(t, err, ErrNotReady)
	assert.NotErrorIs(t, err, ErrReverted)
	assert.Equal(t, []string{"create new", "start new", "remove new"}, r.steps)
}

// keptRelease writes a release's compose folder, as the agent keeps it.
func keptRelease(t *testing.T, version, body string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), version)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "compose.yml"), []byte(body), 0o644))
	return filepath.Join(dir, "compose.yml")
}

func TestStackStepOrder(t *testing.T) {
	w := &sources.Workload{App: "tools", Name: "stack", Hash: "0123456789abcdef"}
	w.Source = &compose.Config{File: "compose.yml"}
	v1 := keptRelease(t, "v1", "services:\n  web:\n    image: app:${TAG}\n")
	v2 := keptRelease(t, "v2", "services:\n  web:\n    image: app:${TAG}\n")
	refused := keptRelease(t, "v3", "services:\n  web:\n    image: app:${TAG}\n    privileged: true\n")
	prev := &Release{Workload: w, Commit: "c1", File: v1, Env: []string{"TAG=1"}}
	tests := []struct {
		name     string
		fail     string
		file     string
		previous *Release
		replaced string
		steps    []string
		want     error
	}{
		{"up", "", v2, prev, "", []string{"own", "up v2 app:2", "persist berth-tools_stack"}, nil},
		{"renamed project", "", v2, prev, "old-project", []string{"own", "up v2 app:2", "persist berth-tools_stack", "down old-project"}, nil},
		{"not owned", "own", v2, prev, "", []string{"own"}, errBoom},
		{"refused by the policy: nothing runs", "", refused, prev, "", []string{"own"}, policy.ErrNotAllowed},
		{"up fails: the last good is up again", "up v2 app:2", v2, prev, "", []string{"own", "up v2 app:2", "up v1 app:1"}, ErrReverted},
		{"up fails on a first deploy", "up v2 app:2", v2, nil, "", []string{"own", "up v2 app:2"}, errBoom},
		{"up fails, files gone", "up v2 app:2", v2, &Release{Unavailable: errors.New("its compose files are no longer kept")}, "",
			[]string{"own", "up v2 app:2"}, ErrRevertFailed},
		{"up fails, the last good is refused now", "up v2 app:2", v2, &Release{Workload: w, Commit: "c0", File: refused, Env: []string{"TAG=0"}}, "",
			[]string{"own", "up v2 app:2"}, ErrRevertFailed},
		{"persist fails", "persist berth-tools_stack", v2, prev, "", []string{"own", "up v2 app:2", "persist berth-tools_stack"}, ErrNotRecorded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecorder(t)
			r.fail = tt.fail
			_, err := recordingEngine(r).Deploy(context.Background(), Deployment{
				Workload: w, Commit: "c2", File: tt.file, Env: []string{"TAG=2"}, Previous: tt.previous, Replaced: tt.replaced,
				Persist: r.persist,
			})
			assert.Equal(t, tt.steps, r.steps)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

// The before_deploy task runs before anything of the new version is
// created and before the old one is touched, with either strategy; when
// it fails, nothing else happens.
func TestBeforeDeployStepOrder(t *testing.T) {
	task := []string{"remove berth-shop_web.before-deploy", "create task", "run task"}
	tests := []struct {
		name     string
		strategy sources.Strategy
		fail     string
		steps    []string
	}{
		{"blue-green", sources.StrategyBlueGreen, "", append(slices.Clone(task), "create new", "start new", "route new", "persist new", "remove blue")},
		{"recreate", sources.StrategyRecreate, "", append(slices.Clone(task), "create new", "stop blue", "start new", "route new", "persist new", "remove blue", "rename new berth-shop_web", "persist berth-shop_web")},
		{"blue-green task fails", sources.StrategyBlueGreen, "run task", task},
		{"recreate task fails", sources.StrategyRecreate, "run task", task},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecorder(t)
			r.fail = tt.fail
			e := recordingEngine(r)
			blue := r.container("blue")
			w := routedWorkload()
			w.BeforeDeploy = &sources.Task{Command: []string{"/app", "migrate"}}
			_, err := e.Deploy(context.Background(), Deployment{
				Workload: w, Decision: sources.Decision{Strategy: tt.strategy},
				Image: "shop/web:2", Old: []docker.Container{blue}, Current: &blue, Persist: r.persist,
			})
			assert.Equal(t, tt.steps, r.steps)
			if tt.fail == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrTaskFailed)
			require.ErrorIs(t, err, ErrStillServing)
			assert.ErrorContains(t, err, "before_deploy failed: exit 3")
		})
	}
}

// A failed recreate's revert asks the restored container its own
// release's readiness check (CurrentWorkload), never the new version's
// path that just failed; unknown, any answer on "/".
func TestRevertAsksTheServingReleasesCheck(t *testing.T) {
	for _, tt := range []struct {
		name    string
		current *sources.Workload
		want    string
	}{
		{"its own check", func() *sources.Workload {
			w := routedWorkload()
			w.Healthcheck = &sources.Healthcheck{Path: "/ready-v1"}
			return w
		}(), "/ready-v1"},
		{"unknown: any answer", nil, "/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecorder(t)
			var mu sync.Mutex
			var asked []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				mu.Lock()
				asked = append(asked, req.URL.Path)
				mu.Unlock()
				_, _ = io.WriteString(w, "ok")
			}))
			t.Cleanup(srv.Close)
			_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
			var p int
			_, _ = fmt.Sscan(port, &p)
			r.ports[p], r.servers["blue"] = "blue", p
			r.exited["new"] = true // the new version dies before its gate decides
			e := recordingEngine(r)
			blue := r.container("blue")
			w := routedWorkload()
			w.Healthcheck = &sources.Healthcheck{Path: "/missing-in-v2"}
			_, err := e.Deploy(context.Background(), Deployment{
				Workload: w, Decision: sources.Decision{Strategy: sources.StrategyRecreate},
				Image: "shop/web:2", Old: []docker.Container{blue}, Current: &blue, CurrentWorkload: tt.current, Persist: r.persist,
			})
			require.ErrorIs(t, err, ErrReverted)
			mu.Lock()
			defer mu.Unlock()
			require.NotEmpty(t, asked, "the restored container was asked before the route went back")
			for _, path := range asked {
				assert.Equal(t, tt.want, path)
			}
		})
	}
}
