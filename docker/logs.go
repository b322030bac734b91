package docker

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/pkg/stdcopy"
)

// LogOptions choose what Logs reads.
type LogOptions struct {
	Follow bool
	Tail   int       // the last N lines (0: all)
	Since  time.Time // zero: from the start
}

// Logs streams a container's output (stdout and stderr, interleaved as
// Docker kept them), demultiplexed; with Follow it ends when the container
// stops or ctx ends. The caller closes the reader.
func (d *Client) Logs(ctx context.Context, id string, o LogOptions) (io.ReadCloser, error) {
	opts := container.LogsOptions{ShowStdout: true, ShowStderr: true, Follow: o.Follow}
	if o.Tail > 0 {
		opts.Tail = strconv.Itoa(o.Tail)
	}
	if !o.Since.IsZero() {
		opts.Since = strconv.FormatInt(o.Since.Unix(), 10)
	}
	if !o.Follow {
		// A bounded read gets the usual deadline; a follow lasts as long
		// as its reader (the caller's ctx).
		var cancel context.CancelFunc
		ctx, cancel = d.call(ctx, 0)
		rc, err := d.logs(ctx, id, opts)
		if err != nil {
			cancel()
			return nil, err
		}
		return &cancelCloser{ReadCloser: rc, cancel: cancel}, nil
	}
	return d.logs(ctx, id, opts)
}

func (d *Client) logs(ctx context.Context, id string, opts container.LogsOptions) (io.ReadCloser, error) {
	raw, err := d.cli.ContainerLogs(ctx, id, opts)
	if err != nil {
		return nil, fmt.Errorf("reading the logs of %s: %w", id, err)
	}
	pr, pw := io.Pipe()
	go func() {
		// Berth's containers have no TTY: the stream is multiplexed.
		_, err := stdcopy.StdCopy(pw, pw, raw)
		raw.Close()
		pw.CloseWithError(err)
	}()
	return &closer{Reader: pr, close: func() error { raw.Close(); return pr.Close() }}, nil
}

type closer struct {
	io.Reader
	close func() error
}

func (c *closer) Close() error { return c.close() }

type cancelCloser struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelCloser) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
