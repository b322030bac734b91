package sources

import (
	"context"
	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/internal/fault"
	"io"
	"log/slog"
	"maps"
	"slices"
)

// Kind is a workload's source type.
type Kind string

// The source kinds a workload file can name in source.type.
const (
	KindImage      Kind = "image"
	KindDockerfile Kind = "dockerfile"
	KindStatic     Kind = "static"
	KindCompose    Kind = "compose"
	KindStack      Kind = "stack"
)

// Kinds lists every source kind, in the order docs and errors show them.
var Kinds = []Kind{KindImage, KindDockerfile, KindStatic, KindCompose, KindStack}

// Managed reports whether a tool owns the kind's containers (docker
// compose, Docker Swarm): Berth runs the tool and judges its outcome, but
// neither names, routes nor reaps the containers itself.
func (k Kind) Managed() bool { return k == KindCompose || k == KindStack }

// Config is one source kind's part of a workload file (the `source:` block).
type Config interface {
	Kind() Kind
	// Strategy is the deploy_strategy the file asks for ("" when absent).
	Strategy() string
	// Validate checks the kind's own fields. Field names are dotted paths
	// from the document root ("source.image") so the loader can point at
	// the line.
	Validate() []FieldError
}

// FieldError is a problem with one field of a workload file.
type FieldError struct {
	Field string // dotted path from the document root, e.g. "source.image"
	Msg   string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Msg }

// Path is a file or folder a source config names: the value as written
// (relative to the workload file's folder) and where the loader found it.
type Path struct {
	Field    string // "source.context"
	Value    string // as written
	Resolved string // relative to the config root; checked to stay inside it
}

// PathReferrer is a config that names files or folders in the config repo.
// The loader resolves and checks each path, fills in Resolved and hashes
// the content, so a change there redeploys.
type PathReferrer interface {
	Paths() []*Path
}

// FileChecker is a config that checks the content of a file it names (a
// compose file must parse).
type FileChecker interface {
	CheckFile(field string, data []byte) error
}

// DefaultPorter is a config whose server listens on a known port when the
// workload sets none.
type DefaultPorter interface {
	DefaultPort() int
}

// AppCheckout is a fetched app repo a source builds from.
type AppCheckout struct {
	Dir    string
	Commit string
}

// PrepareEnv is what a source needs to prepare its image.
type PrepareEnv struct {
	Docker ImageStore
	// Root is the config root on disk; Path.Resolved is relative to it.
	Root string
	// App is the app repo checkout, for sources that build from one.
	App *AppCheckout
	// StaticServer is the statically linked binary that serves sites.
	StaticServer string
	// Timeouts bound pulls and builds.
	Timeouts fault.Timeouts
	Log      *slog.Logger
}

// Prepared is a workload's image, ready to run.
type Prepared struct {
	Image  string // the reference to run
	Pulled bool   // Berth pulled it from a registry (and may collect it later)
}

// VolumeDeclarer is a config that mounts named volumes of its own (a deno
// site's storage): short name → path in the container.
type VolumeDeclarer interface {
	NamedVolumes(w *Workload) map[string]string
}

// NamedVolume is one named volume a workload mounts.
type NamedVolume struct {
	Key    string // its name in the workload file
	Name   string // the Docker volume (VolumeName)
	Legacy string // its name before names were injective (LegacyVolumeName)
	Target string // the path in the container
}

// NamedVolumes are every named volume a workload mounts: its source's and
// its own `volumes:`, sorted by name.
func NamedVolumes(w *Workload) []NamedVolume {
	short := map[string]string{}
	if vd, ok := w.Source.(VolumeDeclarer); ok {
		for k, v := range vd.NamedVolumes(w) {
			short[k] = v
		}
	}
	for k, v := range w.Volumes {
		short[k] = v.Path
	}
	namer, _ := w.Source.(VolumeNamer)
	out := make([]NamedVolume, 0, len(short))
	for _, k := range slices.Sorted(maps.Keys(short)) {
		v := NamedVolume{Key: k, Name: VolumeName(w, k), Legacy: LegacyVolumeName(w, k), Target: short[k]}
		if namer != nil {
			v.Name, v.Legacy = namer.DockerVolume(w, k), ""
		}
		out = append(out, v)
	}
	return out
}

// VolumeNamer is a source kind whose tool names its volumes (a compose
// project's: "<project>_<name>").
type VolumeNamer interface {
	DockerVolume(w *Workload, name string) string
}

// ImageSource is a source kind that runs as one container of an image it
// prepares itself (pulls or builds) before the deploy engine takes over.
type ImageSource interface {
	Config
	Prepare(ctx context.Context, env PrepareEnv, w *Workload) (Prepared, error)
}

// ImageStore is what preparing an image needs from Docker.
type ImageStore interface {
	InspectImage(ctx context.Context, ref string) (img docker.Image, ok bool, err error)
	Pull(ctx context.Context, ref string) error
	Build(ctx context.Context, buildCtx io.Reader, spec docker.BuildSpec, out func(line string)) error
}

var _ ImageStore = (*docker.Client)(nil)

func (k Kind) String() string { return string(k) }
