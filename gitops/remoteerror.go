package gitops

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
)

// ErrorClass sorts remote failures the way an operator acts on them.
type ErrorClass int

// The classes.
const (
	// Local means the error did not come from the remote: the clone on
	// disk is broken and is cloned afresh.
	Local ErrorClass = iota
	// RetryLater is a network failure, a timeout or a server error: the
	// next tick may succeed on its own.
	RetryLater
	// NeedsPerson is a refusal (credentials, a missing repo or branch):
	// nothing changes until somebody fixes the flags or the remote.
	NeedsPerson
)

func (c ErrorClass) String() string {
	switch c {
	case RetryLater:
		return "retry later"
	case NeedsPerson:
		return "needs a person"
	}
	return "local"
}

// RemoteError is a failed clone, fetch or push.
type RemoteError struct {
	Op, URL, Branch, Msg string
	Class                ErrorClass
	err                  error
}

func (e *RemoteError) Error() string {
	return fmt.Sprintf("%s %s (branch %s): %s", e.Op, e.URL, e.Branch, e.Msg)
}

// Unwrap returns the cause, so callers can errors.Is context deadlines.
func (e *RemoteError) Unwrap() error { return e.err }

// Classify sorts an error from go-git by its typed causes (never by its
// message).
func Classify(err error) ErrorClass {
	var re *RemoteError
	if errors.As(err, &re) {
		return re.Class
	}
	for _, e := range causes(err) {
		if c := classifyOne(e); c != Local {
			return c
		}
	}
	return Local
}

func classifyOne(e error) ErrorClass {
	switch {
	case errors.Is(e, context.DeadlineExceeded), errors.Is(e, context.Canceled):
		return RetryLater
	case errors.Is(e, transport.ErrAuthenticationRequired), errors.Is(e, transport.ErrAuthorizationFailed),
		errors.Is(e, transport.ErrRepositoryNotFound), errors.Is(e, transport.ErrInvalidAuthMethod),
		errors.Is(e, plumbing.ErrReferenceNotFound), errors.Is(e, ErrBranchNotFound):
		return NeedsPerson
	}
	var he *githttp.Err
	if errors.As(e, &he) {
		if code := he.StatusCode(); code >= 500 || code == 429 || code == 408 {
			return RetryLater
		}
		return NeedsPerson
	}
	var ne net.Error
	if errors.As(e, &ne) || errors.Is(e, io.EOF) || errors.Is(e, io.ErrUnexpectedEOF) ||
		errors.Is(e, syscall.ECONNREFUSED) || errors.Is(e, syscall.ECONNRESET) || errors.Is(e, syscall.EPIPE) {
		return RetryLater
	}
	return Local
}

// causes lists err and what it wraps, one link at a time, looking inside
// go-git's UnexpectedError and PermanentError, which do not implement
// Unwrap.
func causes(err error) []error {
	var out []error
	for depth := 0; err != nil && depth < 32; depth++ {
		out = append(out, err)
		switch e := err.(type) { //nolint:errorlint // walking the chain one link at a time
		case *plumbing.UnexpectedError:
			err = e.Err
		case *plumbing.PermanentError:
			err = e.Err
		default:
			err = errors.Unwrap(err)
		}
	}
	return out
}
