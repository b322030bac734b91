package docker

import (
	"context"
	"fmt"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/network"
)

// ensureNetwork creates the bridge network name, labelled like the
// container that asks for it, unless it exists.
func (d *Client) ensureNetwork(ctx context.Context, name string, labels map[string]string) error {
	if _, err := d.cli.NetworkInspect(ctx, name, network.InspectOptions{}); err == nil {
		return nil
	}
	nl := map[string]string{}
	for _, k := range []string{LabelAgent, LabelWorkload} {
		if v, ok := labels[k]; ok {
			nl[k] = v
		}
	}
	if _, err := d.cli.NetworkCreate(ctx, name, network.CreateOptions{Driver: "bridge", Labels: nl}); err != nil && !cerrdefs.IsConflict(err) {
		return fmt.Errorf("creating network %s: %w", name, err)
	}
	return nil
}

// RemoveNetwork removes a network Berth made for a workload. One that is
// gone is no error; one another container still uses stays (an error
// saying so).
func (d *Client) RemoveNetwork(ctx context.Context, name string) error {
	ctx, cancel := d.call(ctx, 0)
	defer cancel()
	if err := d.cli.NetworkRemove(ctx, name); err != nil && !cerrdefs.IsNotFound(err) {
		return fmt.Errorf("removing network %s: %w", name, err)
	}
	return nil
}
