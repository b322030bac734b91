package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// Target is where sealed snapshots are kept: a local directory or an
// S3-compatible store. Each snapshot is two objects — the sealed stream
// and, written only once that is complete, its manifest — so an
// interrupted backup is never listed.
type Target interface {
	// Put stores a snapshot that seal writes and then its manifest m
	// (its Size and SHA256 filled from seal's Sum); m.Object names it.
	Put(ctx context.Context, m Manifest, seal func(w io.Writer) (Sum, error)) (Manifest, error)
	// Open reads a sealed snapshot.
	Open(ctx context.Context, object string) (io.ReadCloser, error)
	// Remove deletes a snapshot and its manifest.
	Remove(ctx context.Context, object string) error
	// List reads the manifests of the complete snapshots known does not
	// know (nil: all), oldest first: a fresh host restores from the
	// target and an identity alone. The error names the manifests it
	// could not read; the others are returned.
	List(ctx context.Context, known func(object string) bool) ([]Manifest, error)
	// String names the target for messages (never its credentials).
	String() string
}

// Manifest describes one snapshot; it is stored beside the sealed object
// in plain JSON (it holds no volume content).
type Manifest struct {
	Object     string    `json:"object"` // the sealed object's name in the target
	Workload   string    `json:"workload"`
	Volume     string    `json:"volume"`      // the workload's name for it
	DockerName string    `json:"docker_name"` // the Docker volume it was read from
	Agent      string    `json:"agent"`
	Release    int64     `json:"release"` // the taking agent's release id
	Commit     string    `json:"commit"`  // the release that was serving
	CreatedAt  time.Time `json:"created_at"`
	Sum
}

// ObjectName is where a snapshot of volume of the workload with slug
// taken at goes: <slug>/<volume>-<time>.tar.zst.age.
func ObjectName(slug, volume string, at time.Time) string {
	return path.Join(slug, fmt.Sprintf("%s-%s.tar.zst.age", volume, at.UTC().Format("20060102T150405.000Z")))
}

const manifestExt = ".json"

func manifestName(object string) string { return object + manifestExt }

func isManifest(name string) bool {
	return strings.HasSuffix(name, ".tar.zst.age"+manifestExt)
}

func encodeManifest(m Manifest) ([]byte, error) {
	return json.MarshalIndent(m, "", "  ")
}

func decodeManifest(name string, b []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("manifest %s: %w", name, err)
	}
	if m.Object != strings.TrimSuffix(name, manifestExt) {
		return m, fmt.Errorf("manifest %s names another object (%s)", name, m.Object)
	}
	return m, nil
}
