package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// MaxTaskOutput is how much of a task's output is kept: its last 4 KiB.
const MaxTaskOutput = 4 << 10

// TaskResult is how a one-off container ended.
type TaskResult struct {
	ExitCode int
	TimedOut bool   // stopped at its timeout
	Output   []byte // the last MaxTaskOutput bytes of stdout and stderr
	Took     time.Duration
}

// RunTask starts a created task container, waits until it exits or
// timeout passes (then stops it: SIGTERM, grace, SIGKILL), keeps the tail
// of its output, and removes it.
func (d *Client) RunTask(ctx context.Context, id string, timeout, grace time.Duration) (TaskResult, error) {
	defer func() {
		rctx, cancel := d.call(context.WithoutCancel(ctx), 0)
		defer cancel()
		// A container left behind is removed by name by the task's next run.
		_ = d.cli.ContainerRemove(rctx, id, container.RemoveOptions{Force: true})
	}()
	start := time.Now()
	sctx, cancel := d.call(ctx, 0)
	err := d.cli.ContainerStart(sctx, id, container.StartOptions{})
	cancel()
	if err != nil {
		return TaskResult{}, fmt.Errorf("starting the task: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	waitC, errC := d.cli.ContainerWait(wctx, id, container.WaitConditionNotRunning)
	res := TaskResult{ExitCode: -1}
	select {
	case w := <-waitC:
		res.ExitCode = int(w.StatusCode)
	case err := <-errC:
		if ctx.Err() != nil {
			// Asked to stop (the job was removed or replaced, the agent
			// stops): as gracefully as at a timeout.
			d.stopTask(ctx, id, grace)
			res.Took, res.Output = time.Since(start), d.taskOutput(context.WithoutCancel(ctx), id)
			return res, fmt.Errorf("stopped: %w", context.Cause(ctx))
		}
		if !errors.Is(err, context.DeadlineExceeded) && wctx.Err() == nil {
			return TaskResult{}, fmt.Errorf("waiting for the task: %w", err)
		}
		res.TimedOut = true
		res.ExitCode = d.stopTask(ctx, id, grace)
	}
	res.Took = time.Since(start)
	res.Output = d.taskOutput(context.WithoutCancel(ctx), id)
	return res, nil
}

// taskOutput is the tail of a container's stdout and stderr.
func (d *Client) taskOutput(ctx context.Context, id string) []byte {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	rc, err := d.cli.ContainerLogs(ctx, id, container.LogsOptions{ShowStdout: true, ShowStderr: true, Tail: "200"})
	if err != nil {
		return nil
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := stdcopy.StdCopy(&buf, &buf, io.LimitReader(rc, 1<<20)); err != nil && buf.Len() == 0 {
		return nil
	}
	out := buf.Bytes()
	if len(out) > MaxTaskOutput {
		out = out[len(out)-MaxTaskOutput:]
	}
	return out
}

// stopTask stops a task container (SIGTERM, grace, SIGKILL) and returns
// its exit code (-1 when unknown).
func (d *Client) stopTask(ctx context.Context, id string, grace time.Duration) int {
	stop, cancel := d.call(context.WithoutCancel(ctx), grace)
	defer cancel()
	secs := int(grace / time.Second)
	_ = d.cli.ContainerStop(stop, id, container.StopOptions{Timeout: &secs})
	if info, err := d.cli.ContainerInspect(stop, id); err == nil && info.State != nil {
		return info.State.ExitCode
	}
	return -1
}
