// Package fault holds what remote calls share when they go wrong: the
// deadline wrapper and its error, the error of an external tool, and the
// failpoints crash tests stop a process at.
package fault

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Timeouts bound the remote calls of preparing an image. Zero means none.
type Timeouts struct {
	Pull  time.Duration // a registry pull (--pull-timeout)
	Build time.Duration // an image build (--build-timeout)
}

// TimeoutError is a remote call that did not finish within its deadline:
// it names the deadline and the flag that sets it.
type TimeoutError struct {
	After time.Duration
	Flag  string
	Err   error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("timed out after %s (%s): %v", e.After, e.Flag, e.Err)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// Short says it without the cause (which may be tool output).
func (e *TimeoutError) Short() string { return fmt.Sprintf("timed out after %s (%s)", e.After, e.Flag) }

// Deadline runs f with a deadline of d (none when d is 0). An error that
// comes after the deadline passed says which remote and which flag:
// "pulling nginx:1: timed out after 10m0s (--pull-timeout)".
func Deadline(ctx context.Context, d time.Duration, flag string, f func(context.Context) error) error {
	if d <= 0 {
		return f(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	err := f(ctx)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &TimeoutError{After: d, Flag: flag, Err: err}
	}
	return err
}
