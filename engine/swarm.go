package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/policy"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/docker/docker/api/types/swarm"
)

// SwarmAPI is what a stack deploy asks the Docker API directly.
type SwarmAPI interface {
	SwarmManager(ctx context.Context) error
	StackServices(ctx context.Context, stack string) ([]docker.ServiceState, error)
	DeployStack(ctx context.Context, stack, dir string, doc []byte, check docker.ServiceCheck) error
}

// Swarm deploys stack workloads on a manager as `docker stack deploy
// --prune` would, through the API (the service specs are checked before
// they are sent), then follows each service's update until Swarm says it
// completed, rolled back or paused.
type Swarm struct {
	// Stack runs the docker CLI (its Docker, Dir, Env and Timeout); its
	// Wait bounds how long a rollout may take (--compose-wait).
	Stack *Compose
	API   SwarmAPI
	// Poll is how often the services are read during a rollout
	// (default 1s).
	Poll time.Duration
}

// Deploy deploys the rendered project p — the object the policy
// checked — as stack: the docker CLI's converter turns it into service
// specs in process, pol judges each spec (a refusal changes no
// service), and exactly those specs go to Swarm. labels go on every service's containers
// (so the one snapshot sees the tasks), and the owner labels on the
// services. It returns nil once every service it changed has converged;
// an error wrapping ErrReverted when Swarm rolled an update back (after
// Berth asked it to, when the update paused); any other error otherwise.
func (s *Swarm) Deploy(ctx context.Context, stack string, p *types.Project, labels map[string]string, pol policy.Policy) error {
	if err := s.API.SwarmManager(ctx); err != nil {
		return err
	}
	owner := map[string]string{docker.LabelAgent: labels[docker.LabelAgent], docker.LabelWorkload: labels[docker.LabelWorkload]}
	before, err := s.API.StackServices(ctx, stack)
	if err != nil {
		return err
	}
	versions := map[string]uint64{}
	for _, b := range before {
		if b.Labels[docker.LabelAgent] != owner[docker.LabelAgent] || b.Labels[docker.LabelWorkload] != owner[docker.LabelWorkload] {
			// --prune would remove someone else's services.
			return fmt.Errorf("%w: Swarm stack %q has services Berth does not own (%s): choose another source.stack", ErrStillServing, stack, b.Name)
		}
		versions[b.Name] = b.Version
	}
	doc, err := applied(p, labels, owner)
	if err != nil {
		return err
	}
	since := time.Now().Add(-time.Second) // the daemon's clock, on this host
	scope := policy.ServiceScope{Release: p.WorkingDir, Stack: stack}
	check := func(specs map[string]swarm.ServiceSpec) error {
		var vs []policy.Violation
		for _, name := range slices.Sorted(maps.Keys(specs)) {
			vs = append(vs, pol.Service(specs[name], scope)...)
		}
		return policy.Refusal(vs)
	}
	if err := s.API.DeployStack(ctx, stack, p.WorkingDir, doc, check); err != nil {
		if errors.Is(err, docker.ErrServicesRefused) {
			return fmt.Errorf("%w: %w", ErrStillServing, err)
		}
		return fmt.Errorf("deploying stack %s: %w", stack, err)
	}
	return s.await(ctx, stack, versions, since)
}

// Remove removes the stack (`docker stack rm`).
func (s *Swarm) Remove(ctx context.Context, stack string) error {
	return s.Stack.run(ctx, s.Stack.Dir, "docker stack rm", "stack", "rm", stack)
}

// await polls the stack's services until every one this deploy changed
// has converged, or one failed, or --compose-wait passed.
func (s *Swarm) await(ctx context.Context, stack string, before map[string]uint64, since time.Time) error {
	wait := s.Stack.Wait
	if wait <= 0 {
		wait = 2 * time.Minute
	}
	poll := s.Poll
	if poll <= 0 {
		poll = time.Second
	}
	start := time.Now()
	asked := map[string]bool{} // services Berth asked Swarm to roll back
	for {
		svcs, err := s.API.StackServices(ctx, stack)
		if err != nil {
			return err
		}
		r := judgeRollout(svcs, before, since, time.Since(start))
		for _, name := range r.paused {
			if !asked[name] {
				asked[name] = true
				if err := s.Stack.run(ctx, s.Stack.Dir, "docker service rollback", "service", "rollback", "--detach", name); err != nil {
					return fmt.Errorf("Swarm paused the update of %s, and rolling it back failed: %w", name, err)
				}
			}
		}
		switch {
		case r.failed != "":
			return errors.New(r.failed)
		case len(r.pending) == 0 && len(r.paused) == 0 && r.rolledBack != "":
			if len(asked) > 0 {
				return fmt.Errorf("%w: Swarm paused the update of %s and Berth asked for a rollback: %s",
					ErrReverted, strings.Join(slices.Sorted(maps.Keys(asked)), ", "), r.rolledBack)
			}
			return fmt.Errorf("%w: %s", ErrReverted, r.rolledBack)
		case len(r.pending) == 0 && len(r.paused) == 0:
			return nil
		case time.Since(start) > wait:
			return fmt.Errorf("the stack did not converge within --compose-wait %s: %s", wait, strings.Join(r.pending, "; "))
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(poll):
		}
	}
}

// rollout is where a stack's update stands.
type rollout struct {
	pending    []string // "svc: 1/2 running, updating"
	paused     []string // services whose update Swarm paused
	rolledBack string   // "svc: <Swarm's message>", for the error
	failed     string   // a rollback that paused too: nothing Berth can do
}

// settle is how long a service whose spec changed without Swarm starting
// an update (a label-only change) is given before it is judged by its
// running tasks alone.
const settle = 5 * time.Second

// judgeRollout judges the services of a stack after a deploy: a service
// the deploy did not change (same version) is not this deploy's business;
// a changed one is done when its update completed (or, new, when its
// tasks run) and failed when Swarm rolled it back or paused.
func judgeRollout(svcs []docker.ServiceState, before map[string]uint64, since time.Time, elapsed time.Duration) rollout {
	sort.Slice(svcs, func(i, j int) bool { return svcs[i].Name < svcs[j].Name })
	var r rollout
	var rolled []string
	for _, s := range svcs {
		prev, existed := before[s.Name]
		if existed && prev == s.Version {
			continue
		}
		fresh := !s.UpdateStarted.Before(since) && s.Update != ""
		tasks := fmt.Sprintf("%s: %d/%d running", s.Name, s.Running, s.Desired)
		switch {
		case fresh && s.Update == "rollback_completed":
			rolled = append(rolled, fmt.Sprintf("Swarm rolled back %s (%s)", s.Name, s.UpdateMessage))
		case fresh && s.Update == "rollback_paused":
			r.failed = fmt.Sprintf("Swarm paused the rollback of %s (%s): it needs a person", s.Name, s.UpdateMessage)
		case fresh && s.Update == "paused":
			r.paused = append(r.paused, s.Name)
		case fresh && s.Update != "completed":
			r.pending = append(r.pending, tasks+", "+strings.ReplaceAll(s.Update, "_", " "))
		case existed && !fresh && elapsed < settle:
			r.pending = append(r.pending, tasks+", waiting for Swarm to start the update")
		case s.Running < s.Desired:
			r.pending = append(r.pending, tasks)
		}
	}
	r.rolledBack = strings.Join(rolled, "; ")
	return r
}
