// Command berth is a pull-based GitOps agent for plain Docker hosts.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// defaultMemoryLimit is the soft heap limit when GOMEMLIMIT is not set: the
// garbage collector works harder as the heap nears it, so a burst (a big
// build, a thousand workloads loading at once) gives memory back instead of
// growing the agent for good. Idle, the agent is far below it.
const defaultMemoryLimit = 96 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := newRootCmd().ExecuteContext(ctx)
	if err == nil {
		return
	}
	var ec *exitError
	if errors.As(err, &ec) {
		if ec.msg != "" {
			fmt.Fprintln(os.Stderr, "berth:", ec.msg)
		}
		os.Exit(ec.code)
	}
	fmt.Fprintln(os.Stderr, "berth:", err)
	os.Exit(1)
}

// exitError ends the process with a chosen code; msg may be empty when the
// command printed its own report.
type exitError struct {
	code int
	msg  string
	err  error // the cause, when there is one (errors.Is sees it)
}

func (e *exitError) Error() string { return e.msg }

func (e *exitError) Unwrap() error { return e.err }
