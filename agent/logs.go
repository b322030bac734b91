package agent

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/sources"
)

// logReader reads containers' output (docker.Client).
type logReader interface {
	Logs(ctx context.Context, id string, o docker.LogOptions) (io.ReadCloser, error)
}

// KeptLines is how many of a removed container's last lines are kept.
const KeptLines = 200

// maxLogLine bounds one line of output (a longer one is cut).
const maxLogLine = 64 << 10

// keepLogs keeps the last lines of a container the engine is about to
// remove (redacted), so `berth logs --previous` and the UI can show them
// after a failed deploy — never in events or notifications.
func (a *Agent) keepLogs(ctx context.Context, w *sources.Workload, c docker.Container, reason string) {
	lr, ok := a.docker.(logReader)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rc, err := lr.Logs(ctx, c.ID, docker.LogOptions{Tail: KeptLines})
	if err != nil {
		a.log.Warn("keeping the logs of a removed container failed", "workload", w.ID(), "error", err)
		return
	}
	defer rc.Close()
	var b strings.Builder
	_ = scanLines(rc, func(line string) error {
		b.WriteString(a.opts.Redactor.Redact(line))
		b.WriteByte('\n')
		return nil
	})
	name := c.Name
	if name == "" {
		name = c.ID[:min(len(c.ID), 12)]
	}
	if err := a.store.AddContainerLog(context.WithoutCancel(ctx), store.ContainerLog{WorkloadID: w.ID(), Container: name, Commit: c.Labels[docker.LabelCommit],
		Reason: store.Truncate(a.opts.Redactor.Redact(reason), store.MaxMessageRunes), CapturedAt: a.now(), Lines: b.String()}); err != nil {
		a.log.Warn("keeping the logs of a removed container failed", "workload", w.ID(), "error", err)
	}
}

// scanLines calls fn for each line of r (cut at maxLogLine).
func scanLines(r io.Reader, fn func(string) error) error {
	br := bufio.NewReaderSize(r, 32<<10)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			rest := line
			for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of an over-long line
				_, err = br.ReadSlice('\n')
			}
			line = append(rest[:min(len(rest), maxLogLine)], " …"...)
		}
		if len(line) > 0 {
			if ferr := fn(strings.TrimRight(string(line), "\r\n")); ferr != nil {
				return ferr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// LogRequest is what `berth logs` asks for.
type LogRequest struct {
	Follow   bool
	Tail     int
	Since    time.Duration
	Service  string // compose: one service
	Run      int64  // a job's run: its kept output
	Previous bool   // the kept output of removed containers
}

// ErrNoLogs: nothing of the workload runs here to read logs from.
var ErrNoLogs = errors.New("no container of the workload to read logs from")

// Logs writes a workload's output to emit, a line at a time, shared
// secrets redacted: the serving container's (or each of a compose
// project's), a job run's, or the kept lines of removed containers. With
// Follow it lasts until the container stops (the last line says so) or
// ctx ends. Nothing is buffered beyond a line: a slow reader slows the
// stream, not the agent's memory.
func (a *Agent) Logs(ctx context.Context, id string, req LogRequest, emit func(line string) error) error {
	switch {
	case req.Previous:
		return a.keptLogs(ctx, id, emit)
	case req.Run != 0:
		return a.runLogs(ctx, id, req.Run, emit)
	}
	lr, ok := a.docker.(logReader)
	if !ok {
		return errors.New("this Docker client cannot read logs")
	}
	cs, err := a.logContainers(ctx, id, req.Service)
	if err != nil {
		return err
	}
	opts := docker.LogOptions{Follow: req.Follow, Tail: req.Tail}
	if req.Since > 0 {
		opts.Since = a.now().Add(-req.Since)
	}
	if len(cs) == 1 {
		return a.streamLogs(ctx, lr, cs[0], "", opts, emit)
	}
	// Several (a compose project's services): each line says whose; a
	// follow interleaves them as they come.
	lines := make(chan string)
	errs := make(chan error, len(cs))
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, c := range cs {
		go func() {
			errs <- a.streamLogs(cctx, lr, c, c.Labels["com.docker.compose.service"]+" | ", opts, func(l string) error {
				select {
				case lines <- l:
					return nil
				case <-cctx.Done():
					return cctx.Err()
				}
			})
		}()
	}
	for done := 0; done < len(cs); {
		select {
		case l := <-lines:
			if err := emit(l); err != nil {
				return err
			}
		case <-errs:
			done++
		}
	}
	return nil
}

// logContainers are the containers a workload's logs come from.
func (a *Agent) logContainers(ctx context.Context, id, service string) ([]docker.Container, error) {
	row, ok, err := a.store.GetRuntime(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownWorkload, id)
	}
	all, err := a.docker.List(ctx, a.opts.Name)
	if err != nil {
		return nil, err
	}
	var out []docker.Container
	for _, c := range all {
		switch {
		case c.Workload() != id:
		case row.Kind == string(sources.KindCompose):
			if service == "" || c.Labels["com.docker.compose.service"] == service {
				out = append(out, c)
			}
		case c.ID == row.ContainerID:
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		what := "is running"
		if service != "" {
			what = "runs service " + service
		}
		return nil, fmt.Errorf("%w: no container of %s %s here (berth logs --previous shows removed ones)", ErrNoLogs, id, what)
	}
	return out, nil
}

// streamLogs emits one container's lines, redacted, with prefix; a follow
// that ends because the container stopped says so.
func (a *Agent) streamLogs(ctx context.Context, lr logReader, c docker.Container, prefix string, o docker.LogOptions, emit func(string) error) error {
	rc, err := lr.Logs(ctx, c.ID, o)
	if err != nil {
		return err
	}
	defer rc.Close()
	err = scanLines(rc, func(l string) error { return emit(prefix + a.opts.Redactor.Redact(l)) })
	if err != nil || !o.Follow || ctx.Err() != nil {
		return err
	}
	return emit(fmt.Sprintf("%s── the container %s stopped (a deploy replaces it, or it exited): the stream ends ──", prefix, c.Name))
}

// keptLogs emits the kept last lines of removed containers, oldest first.
func (a *Agent) keptLogs(ctx context.Context, id string, emit func(string) error) error {
	kept, err := a.store.ContainerLogs(ctx, id)
	if err != nil {
		return err
	}
	if len(kept) == 0 {
		return fmt.Errorf("%w: %s has no kept output of a removed container", ErrNoLogs, id)
	}
	for i := len(kept) - 1; i >= 0; i-- { // oldest first, like a log
		k := kept[i]
		if err := emit(fmt.Sprintf("── %s (%s, %s) ──", k.Container, k.Reason, k.CapturedAt.Format(time.RFC3339))); err != nil {
			return err
		}
		if err := emitLines(k.Lines, emit); err != nil {
			return err
		}
	}
	return nil
}

// runLogs emits a job run's kept output.
func (a *Agent) runLogs(ctx context.Context, id string, run int64, emit func(string) error) error {
	runs, err := a.store.Runs(ctx, id, 0)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.ID == run {
			return emitLines(r.OutputTail, emit)
		}
	}
	return fmt.Errorf("%w: %s has no run %d", ErrNoLogs, id, run)
}

func emitLines(text string, emit func(string) error) error {
	for _, l := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if err := emit(l); err != nil {
			return err
		}
	}
	return nil
}
