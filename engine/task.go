package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/sources"
)

// taskRunner runs a created task container to its end.
type taskRunner interface {
	RunTask(ctx context.Context, id string, timeout, grace time.Duration) (docker.TaskResult, error)
}

// ErrTaskFailed: a before_deploy task did not succeed (a non-zero exit, a
// timeout, or it could not start). Nothing of the running version was
// touched.
var ErrTaskFailed = errors.New("before_deploy failed")

// TaskError says how a task failed.
type TaskError struct {
	Result docker.TaskResult
	Err    error // it could not be created or started
}

func (e *TaskError) Error() string {
	switch {
	case e.Err != nil:
		return fmt.Sprintf("%v: %v", ErrTaskFailed, e.Err)
	case e.Result.TimedOut:
		return fmt.Sprintf("%v: timed out after %s (stopped)", ErrTaskFailed, e.Result.Took.Round(time.Second))
	}
	return fmt.Sprintf("%v: exit %d", ErrTaskFailed, e.Result.ExitCode)
}

func (e *TaskError) Unwrap() []error { return []error{ErrTaskFailed, e.Err} }

// beforeDeploy runs the workload's before_deploy task, once per new
// desired version: in the new image, with the new env and volumes,
// under the same policy as the workload's containers, before anything
// that serves is touched. A failure wraps ErrStillServing and ErrTaskFailed.
func (e *Engine) beforeDeploy(ctx context.Context, d Deployment) error {
	t := d.Workload.BeforeDeploy
	if t == nil || d.SkipBeforeDeploy {
		return nil
	}
	res, err := e.RunTask(ctx, d, "before-deploy", t.Command, t.TaskTimeout())
	if d.TaskDone != nil {
		d.TaskDone(res, err)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrStillServing, &TaskError{Err: err})
	}
	if res.TimedOut || res.ExitCode != 0 {
		return fmt.Errorf("%w: %w", ErrStillServing, &TaskError{Result: res})
	}
	e.log.Info("before_deploy succeeded", "workload", d.Workload.ID(), "took", res.Took.Round(time.Millisecond))
	return nil
}

// RunTask runs cmd once in the deployment's image, with its env and
// volumes, as a container named after the workload and task ("job",
// "before-deploy"): checked by the same policy as the workload's
// containers, labelled as a task (not a serving container), stopped at
// timeout (SIGTERM, the grace period, SIGKILL) and removed once its
// output is kept. Cancelling ctx stops it the same way.
func (e *Engine) RunTask(ctx context.Context, d Deployment, task string, cmd []string, timeout time.Duration) (docker.TaskResult, error) {
	tr, ok := e.runner.(taskRunner)
	if !ok {
		return docker.TaskResult{}, errors.New("this engine cannot run tasks")
	}
	spec := e.spec(d, sources.ContainerName(d.Workload)+"."+task)
	spec.Labels = maps.Clone(spec.Labels)
	delete(spec.Labels, docker.LabelWorkload) // not a serving container
	spec.Labels[docker.LabelTask] = d.Workload.ID()
	spec.Cmd, spec.Task = cmd, true
	_ = e.runner.Remove(context.WithoutCancel(ctx), spec.Name, 0) // a run a crash left behind
	id, err := e.create(ctx, spec)
	if err != nil {
		return docker.TaskResult{}, err
	}
	return tr.RunTask(ctx, id, timeout, grace(d.Workload))
}
