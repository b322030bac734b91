package compose

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/compose-spec/compose-go/v2/types"
)

// TaskService is the service of a compose project a before_deploy task
// runs as: the one named, or, unnamed, the first service when all of them
// share one image (validate refuses the rest).
func TaskService(p *types.Project, named string) (string, error) {
	if named != "" {
		if _, ok := p.Services[named]; !ok {
			return "", fmt.Errorf("before_deploy.service: the compose file has no service %q (it has %v)", named, slices.Sorted(maps.Keys(p.Services)))
		}
		return named, nil
	}
	names := slices.Sorted(maps.Keys(p.Services))
	images := map[string]bool{}
	for _, n := range names {
		images[p.Services[n].Image] = true
	}
	if len(names) == 0 || len(images) > 1 {
		return "", errors.New("before_deploy.service: the services do not share an image: name the service to run the task as")
	}
	return names[0], nil
}
