package static

import (
	"context"
	"debug/elf"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"

	"github.com/berthops/berth/sources"
)

// builder is what building a site image needs from Docker.
type builder interface {
	HasImage(ctx context.Context, ref string) (bool, error)
	Build(ctx context.Context, buildCtx io.Reader, spec sources.BuildSpec, out func(line string)) error
	Pull(ctx context.Context, ref string) error
}

// Prepare builds the site's image, tagged berth/<app>-<name>:<hash>, unless
// it is already on the host. The built-in runtime needs no registry: the
// image is FROM scratch with the berth binary at server (which must be
// statically linked) running `berth serve-static`. The deno runtime builds
// FROM the deno image (pulled when missing) with the site as /app.
func Prepare(ctx context.Context, b builder, w *sources.Workload, c *Config, dir, server string, log *slog.Logger) (string, error) {
	tag := sources.BuiltTag(w)
	if ok, err := b.HasImage(ctx, tag); err != nil || ok {
		return tag, err
	}
	var files []sources.TarFile
	if c.Runtime == "deno" {
		if ok, err := b.HasImage(ctx, c.Image()); err != nil {
			return "", err
		} else if !ok {
			log.Info("pulling image", "image", c.Image())
			if err := b.Pull(ctx, c.Image()); err != nil {
				return "", err
			}
		}
		files = append(files, sources.TarFile{Name: "Dockerfile", Mode: 0o644, Data: []byte(fmt.Sprintf(
			"FROM %s\nCOPY site /app\nWORKDIR /app\nENV PORT=%d\nCMD [\"run\", \"--allow-net\", \"--allow-read\", \"--allow-write\", \"--allow-env\", %s]\n",
			c.Image(), w.Port, strconv.Quote(c.EntryFile())))})
	} else {
		bin, err := staticBinary(server)
		if err != nil {
			return "", err
		}
		cmd := fmt.Sprintf(`["/berth", "serve-static", "--dir", "/site", "--listen", ":%d"`, w.Port)
		if c.SPA {
			cmd += `, "--spa"`
		}
		files = append(files,
			sources.TarFile{Name: "Dockerfile", Mode: 0o644, Data: []byte("FROM scratch\nCOPY berth /berth\nCOPY site /site\nENTRYPOINT " + cmd + "]\n")},
			sources.TarFile{Name: "berth", Mode: 0o755, Data: bin})
	}
	tar, err := sources.TarDir(files, dir, "site")
	if err != nil {
		return "", err
	}
	log.Info("building site image", "tag", tag, "runtime", runtimeName(c))
	if err := b.Build(ctx, tar, sources.BuildSpec{Tag: tag}, func(line string) { log.Debug("build output", "line", line) }); err != nil {
		return "", err
	}
	return tag, nil
}

func runtimeName(c *Config) string {
	if c.Runtime == "" {
		return "built-in"
	}
	return c.Runtime
}

// staticBinary reads the berth binary that serves sites and checks it is
// statically linked: FROM scratch has no libc.
func staticBinary(path string) ([]byte, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("static site server %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("static sites need a statically linked berth binary (build it with CGO_ENABLED=0); %s is dynamically linked", path)
		}
	}
	return os.ReadFile(path)
}

// Volumes are the named volumes a site's container mounts: a deno site's
// storage.
func Volumes(w *sources.Workload, c *Config) map[string]string {
	if c.Runtime != "deno" || c.Storage == "" {
		return nil
	}
	return map[string]string{"berth-" + w.App + "-" + w.Name + "-data": c.Storage}
}
