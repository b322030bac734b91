package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/sources"
)

// Gate defaults.
const (
	DefaultProbeTimeout   = 60 * time.Second
	DefaultLivenessWindow = 5 * time.Second
	probeInterval         = time.Second
	// connectRetry is how soon a probe that got no answer at all tries
	// again: the server is still starting (Docker's port proxy accepts and
	// then drops the connection until it listens), and asking costs
	// nothing.
	connectRetry = 50 * time.Millisecond
	// answerRetry is the first wait after an answer that did not pass;
	// it doubles up to probeInterval.
	answerRetry = 50 * time.Millisecond
)

// ErrNotReady means a new container did not pass its readiness gate.
var ErrNotReady = errors.New("not ready")

// gate waits until a new container may take traffic, and says how it
// decided (for the deploy event):
//   - with a healthcheck: its path answers 2xx within its timeout;
//   - with a port and no healthcheck: the port answers at all (an HTTP
//     status below 500, or a server that speaks another protocol) within
//     DefaultProbeTimeout, then the container survives the liveness window;
//   - a worker without a port: it survives the liveness window.
func (e *Engine) gate(ctx context.Context, w *sources.Workload, c docker.Container) (string, error) {
	start := e.now()
	if w.Port > 0 && c.HostPort == 0 {
		// No published port when it was started: it was already down
		// again (a crash at once, Docker restarting it).
		cur, err := e.runner.Inspect(ctx, c.ID, w.Port)
		if err != nil {
			return "", err
		}
		if !cur.Running() || cur.HostPort == 0 {
			return "", fmt.Errorf("%w: the container %s right after it started (%d restarts)", ErrNotReady, cur.State, cur.RestartCount)
		}
		c.HostPort = cur.HostPort // RestartCount stays the first one: a restart since is not ready
	}
	p, ok := readiness(w, c)
	if !ok {
		if err := e.liveness(ctx, c, w.Port); err != nil {
			return "", err
		}
		return fmt.Sprintf("no port: stayed up %s", e.opts.LivenessWindow), nil
	}
	a, err := e.probe(ctx, c, p)
	if err != nil {
		return "", err
	}
	if w.Healthcheck != nil {
		return fmt.Sprintf("healthcheck GET %s answered %s after %s", p.path, a, e.since(start)), nil
	}
	answered := e.since(start)
	if err := e.liveness(ctx, c, w.Port); err != nil {
		return "", fmt.Errorf("%w (after GET / answered %s)", err, a)
	}
	return fmt.Sprintf("GET / answered %s after %s, then stayed up %s", a, answered, e.opts.LivenessWindow), nil
}

// answering waits until a restored container answers as the gate asks,
// without the liveness window: it served before, and the route should go
// back to it as soon as it listens.
func (e *Engine) answering(ctx context.Context, w *sources.Workload, c docker.Container) error {
	p, ok := readiness(w, c)
	if !ok {
		return nil
	}
	_, err := e.probe(ctx, c, p)
	return err
}

// readiness is the probe a workload's gate asks, if it has a port.
func readiness(w *sources.Workload, c docker.Container) (probe, bool) {
	if w.Port == 0 || c.HostPort == 0 {
		return probe{}, false
	}
	if hc := w.Healthcheck; hc != nil {
		timeout := hc.Timeout.Std()
		if timeout <= 0 {
			timeout = DefaultProbeTimeout
		}
		return probe{path: hc.Path, timeout: timeout, want: "2xx", pass: answer.success}, true
	}
	return probe{path: "/", timeout: DefaultProbeTimeout, want: "an answer below 500", pass: answer.serving}, true
}

func (e *Engine) since(t time.Time) time.Duration {
	return e.now().Sub(t).Round(100 * time.Millisecond)
}

// probe is one readiness question: which path, for how long, and which
// answer passes.
type probe struct {
	path    string
	timeout time.Duration
	want    string // the passing answer, for the error
	pass    func(answer) bool
}

// probe asks p.path on the container's published port until an answer
// passes. Errors name the path, not the ephemeral port: the same failure
// on the next try reads the same.
func (e *Engine) probe(ctx context.Context, c docker.Container, p probe) (answer, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", c.HostPort)
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	last := "no answer"
	nextInspect := time.Now().Add(probeInterval)
	answerWait := answerRetry
	for {
		wait := probeInterval
		a, err := ask(ctx, addr, p.path)
		switch {
		case err == nil && p.pass(a):
			return a, e.stillUp(ctx, c, p.path, a)
		case err == nil:
			last = a.String()
			// An app that answers "not yet" is usually ready soon: ask
			// again after 50 ms, doubling up to probeInterval.
			wait, answerWait = answerWait, min(answerWait*2, probeInterval)
		case ctx.Err() == nil:
			wait = connectRetry
			last = "no answer" // the error text names the ephemeral port
		}
		if time.Now().After(nextInspect) {
			// A container that exited will never answer: fail fast.
			cur, ierr := e.runner.Inspect(ctx, c.ID, 0)
			if ierr == nil && !cur.Running() {
				return answer{}, fmt.Errorf("%w: the container %s before GET %s answered %s", ErrNotReady, cur.State, p.path, p.want)
			}
			nextInspect = time.Now().Add(probeInterval)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return answer{}, fmt.Errorf("%w: GET %s did not answer %s within %s (last: %s)", ErrNotReady, p.path, p.want, p.timeout, last)
			}
			return answer{}, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// stillUp confirms a passing answer came from the container as it
// started: a container that crashed and was restarted by its restart
// policy in the meantime is not ready, whatever its new incarnation
// answered.
func (e *Engine) stillUp(ctx context.Context, c docker.Container, path string, a answer) error {
	cur, err := e.runner.Inspect(ctx, c.ID, 0)
	if err != nil {
		return err
	}
	if !cur.Running() || cur.RestartCount > c.RestartCount {
		return fmt.Errorf("%w: GET %s answered %s, but the container %s (%d restarts) meanwhile", ErrNotReady, path, a, cur.State, cur.RestartCount)
	}
	return nil
}

func (e *Engine) liveness(ctx context.Context, c docker.Container, port int) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(e.opts.LivenessWindow):
	}
	cur, err := e.runner.Inspect(ctx, c.ID, port)
	if err != nil {
		return err
	}
	if !cur.Running() || cur.RestartCount > c.RestartCount {
		return fmt.Errorf("%w: the container did not stay up for %s (state %s, %d restarts)", ErrNotReady, e.opts.LivenessWindow, cur.State, cur.RestartCount)
	}
	return nil
}
