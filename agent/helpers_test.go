package agent_test

import (
	"io"
	"net/http"

	"github.com/docker/docker/api/types/filters"
	"github.com/docker/docker/api/types/image"
)

func imageListOptions(ref string) image.ListOptions {
	return image.ListOptions{Filters: filters.NewArgs(filters.Arg("reference", ref))}
}

func imageRemoveOptions() image.RemoveOptions {
	return image.RemoveOptions{Force: true, PruneChildren: true}
}

func readAll(resp *http.Response) string {
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
