package agent

import (
	"context"
	"time"

	dockercontainer "github.com/docker/docker/api/types/container"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/engine"
	"github.com/berthops/berth/sources"
)

// Docker is what the agent needs from the Docker daemon: the snapshot,
// image preparation, and the container calls of the deploy engine.
type Docker interface {
	engine.ContainerRunner
	sources.ImageStore
	imageCollector
	List(ctx context.Context, agent string) ([]docker.Container, error)
	Purge(ctx context.Context, id string, grace time.Duration) error
	VolumeLabels(ctx context.Context, name string) (map[string]string, bool, error)
	ProjectContainers(ctx context.Context, project string) ([]docker.Container, error)
	InspectCreated(ctx context.Context, id string) (dockercontainer.InspectResponse, error)
	RemoveWorkloadVolumes(ctx context.Context, agent, workload string) error
	RemoveNetwork(ctx context.Context, name string) error
}
