// Package docker is Berth's adapter over the Docker Engine API: containers,
// images, builds, events, registries and Swarm services, each call with a
// deadline and counted.
package docker

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/docker/docker/client"
	"github.com/docker/go-connections/sockets"
)

// Labels Berth puts on every container it manages.
const (
	LabelAgent    = "berth.agent"    // the agent that owns the container
	LabelWorkload = "berth.workload" // <app>/<name>
	LabelHash     = "berth.hash"     // the desired hash it was created for
	LabelCommit   = "berth.commit"   // the config commit it was created from
	LabelState    = "berth.state"    // the identity of the state dir of the agent that made it
	// LabelServiceAgent marks the tasks of a workload's Swarm service
	// (--engine swarm) instead of LabelAgent: Swarm, not the agent, owns
	// those containers, on whichever node they run.
	LabelServiceAgent = "berth.service-agent"
	// LabelTask marks a one-off task's container (a before_deploy run, a
	// job run) with its workload: it is not the workload's serving
	// container, and lives only while it runs.
	LabelTask = "berth.task"
)

// Docker is Berth's adapter over the Docker Engine API. It negotiates the
// API version with the daemon and counts the requests it makes, for
// metrics and benchmarks.
type Client struct {
	cli        *client.Client
	calls      atomic.Int64
	registries atomic.Pointer[map[string]Credential] // by host
	nodes      nodeAddrs                             // Swarm nodes' addresses, for task addresses
	// CallTimeout bounds each API call that is not a pull or a build
	// (those have their own flags); default 2m.
	CallTimeout time.Duration
}

// call gives one API call its deadline: a daemon that hangs fails the
// step instead of freezing the agent.
func (d *Client) call(ctx context.Context, extra time.Duration) (context.Context, context.CancelFunc) {
	t := d.CallTimeout
	if t <= 0 {
		t = 2 * time.Minute
	}
	return context.WithTimeout(ctx, t+extra)
}

// NewDocker connects to the daemon at host ("" for the default socket).
func New(host string) (*Client, error) {
	if host == "" {
		host = client.DefaultDockerHost
	}
	u, err := client.ParseHostURL(host)
	if err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	tr := &http.Transport{MaxIdleConns: 6, IdleConnTimeout: 30 * time.Second}
	if err := sockets.ConfigureTransport(tr, u.Scheme, u.Host); err != nil {
		return nil, fmt.Errorf("docker host %q: %w", host, err)
	}
	d := &Client{}
	cli, err := client.NewClientWithOpts(
		client.WithHost(host),
		client.WithHTTPClient(&http.Client{Transport: &countingTransport{base: tr, n: &d.calls}}),
		client.WithAPIVersionNegotiation(),
	)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	d.cli = cli
	return d, nil
}

// Close releases the client's connections.
func (d *Client) Close() error { return d.cli.Close() }

// Calls is the number of Docker API requests made so far.
func (d *Client) Calls() int64 { return d.calls.Load() }

// Ping checks that the daemon answers.
func (d *Client) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := d.cli.Ping(ctx); err != nil {
		return fmt.Errorf("docker daemon: %w", err)
	}
	return nil
}

type countingTransport struct {
	base http.RoundTripper
	n    *atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	return t.base.RoundTrip(r)
}
