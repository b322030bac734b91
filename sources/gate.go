package sources

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Gate defaults.
const (
	DefaultProbeTimeout   = 60 * time.Second
	DefaultLivenessWindow = 5 * time.Second
	probeInterval         = time.Second
	// connectRetry is how soon a probe that got no HTTP answer at all tries
	// again: the server is still starting (Docker's port proxy accepts and
	// then drops the connection until it listens), and asking costs
	// nothing. An HTTP answer that is not 2xx waits probeInterval.
	connectRetry = 50 * time.Millisecond
)

// ErrNotReady means a new container did not pass its readiness gate.
var ErrNotReady = errors.New("not ready")

// gate waits until a new container may take traffic: an HTTP readiness
// probe when the workload has a healthcheck (2xx within the timeout; the
// first probe at once, then every second), else a liveness window the
// container must survive without exiting or restarting.
func (e *Engine) gate(ctx context.Context, w *Workload, c Container) error {
	if hc := w.Healthcheck; hc != nil && w.Port > 0 && c.HostPort > 0 {
		timeout := hc.Timeout.Std()
		if timeout <= 0 {
			timeout = DefaultProbeTimeout
		}
		return e.probe(ctx, c, hc.Path, timeout)
	}
	return e.liveness(ctx, c, w.Port)
}

// probe asks path on the container's published port until it answers
// 2xx. Errors name the path, not the ephemeral port: the same failure on
// the next try reads the same.
func (e *Engine) probe(ctx context.Context, c Container, path string, timeout time.Duration) error {
	url := fmt.Sprintf("http://127.0.0.1:%d%s", c.HostPort, path)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	last := "no answer"
	nextInspect := time.Now().Add(probeInterval)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		wait := probeInterval
		resp, err := client.Do(req)
		switch {
		case err == nil:
			_ = resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				return e.stillUp(ctx, c, path)
			}
			last = resp.Status
		case ctx.Err() == nil:
			wait = connectRetry
			last = "no HTTP answer" // the error text names the ephemeral port
		}
		if time.Now().After(nextInspect) {
			// A container that exited will never answer: fail fast.
			cur, ierr := e.docker.Inspect(ctx, c.ID, 0)
			if ierr == nil && !cur.Running() {
				return fmt.Errorf("%w: the container %s before answering %s", ErrNotReady, cur.State, path)
			}
			nextInspect = time.Now().Add(probeInterval)
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w: %s did not answer 2xx within %s (last: %s)", ErrNotReady, path, timeout, last)
			}
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// stillUp confirms a probe's 2xx came from the container as it started: a
// container that crashed and was restarted by its restart policy in the
// meantime is not ready, whatever its new incarnation answered.
func (e *Engine) stillUp(ctx context.Context, c Container, path string) error {
	cur, err := e.docker.Inspect(ctx, c.ID, 0)
	if err != nil {
		return err
	}
	if !cur.Running() || cur.RestartCount > c.RestartCount {
		return fmt.Errorf("%w: %s answered 2xx, but the container %s (%d restarts) meanwhile", ErrNotReady, path, cur.State, cur.RestartCount)
	}
	return nil
}

func (e *Engine) liveness(ctx context.Context, c Container, port int) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(e.opts.LivenessWindow):
	}
	cur, err := e.docker.Inspect(ctx, c.ID, port)
	if err != nil {
		return err
	}
	if !cur.Running() || cur.RestartCount > c.RestartCount {
		return fmt.Errorf("%w: the container did not stay up for %s (state %s, %d restarts)", ErrNotReady, e.opts.LivenessWindow, cur.State, cur.RestartCount)
	}
	return nil
}
