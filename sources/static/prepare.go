package static

import (
	"context"
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/sources"
)

var _ sources.ImageSource = (*Config)(nil)

// Prepare builds the site's image, tagged berth/<app>-<name>:<hash>, unless
// it is already on the host. The built-in runtime needs no registry: the
// image is FROM scratch with the site server binary (which must be
// statically linked) serving /site. The deno runtime builds FROM the deno
// image (pulled when missing) with the site as /app.
func (c *Config) Prepare(ctx context.Context, env sources.PrepareEnv, w *sources.Workload) (sources.Prepared, error) {
	out := sources.Prepared{Image: sources.BuiltTag(w)}
	if _, ok, err := env.Docker.InspectImage(ctx, out.Image); err != nil || ok {
		return out, err
	}
	var files []docker.TarFile
	var err error
	if c.Runtime == "deno" {
		files, err = c.denoFiles(ctx, env, w)
	} else {
		files, err = c.builtinFiles(env, w)
	}
	if err != nil {
		return sources.Prepared{}, err
	}
	env.Log.Info("building site image", "tag", out.Image, "runtime", runtimeName(c))
	build := func(ctx context.Context) error {
		tar := docker.TarDir(files, filepath.Join(env.Root, filepath.FromSlash(c.site.Resolved)), "site")
		defer tar.Close()
		return env.Docker.Build(ctx, tar, docker.BuildSpec{Tag: out.Image}, func(line string) { env.Log.Debug("build output", "line", line) })
	}
	if err := fault.Deadline(ctx, env.Timeouts.Build, "--build-timeout", build); err != nil {
		return sources.Prepared{}, err
	}
	return out, nil
}

func (c *Config) denoFiles(ctx context.Context, env sources.PrepareEnv, w *sources.Workload) ([]docker.TarFile, error) {
	if _, ok, err := env.Docker.InspectImage(ctx, c.Image()); err != nil {
		return nil, err
	} else if !ok {
		env.Log.Info("pulling image", "image", c.Image())
		pull := func(ctx context.Context) error { return env.Docker.Pull(ctx, c.Image()) }
		if err := fault.Deadline(ctx, env.Timeouts.Pull, "--pull-timeout", pull); err != nil {
			return nil, err
		}
	}
	dockerfile := fmt.Sprintf("FROM %s\nCOPY site /app\nWORKDIR /app\nENV PORT=%d\nCMD [\"run\", \"--allow-net\", \"--allow-read\", \"--allow-write\", \"--allow-env\", %s]\n",
		c.Image(), w.Port, strconv.Quote(c.EntryFile()))
	return []docker.TarFile{{Name: "Dockerfile", Mode: 0o644, Data: []byte(dockerfile)}}, nil
}

func (c *Config) builtinFiles(env sources.PrepareEnv, w *sources.Workload) ([]docker.TarFile, error) {
	if err := checkStatic(env.StaticServer); err != nil {
		return nil, err
	}
	// berth-site and `berth serve-static` take the same command line.
	cmd := fmt.Sprintf(`["/server", "serve-static", "--dir", "/site", "--listen", ":%d"`, w.Port)
	if c.SPA {
		cmd += `, "--spa"`
	}
	return []docker.TarFile{
		{Name: "Dockerfile", Mode: 0o644, Data: []byte("FROM scratch\nCOPY server /server\nCOPY site /site\nENTRYPOINT " + cmd + "]\n")},
		{Name: "server", Mode: 0o755, Path: env.StaticServer},
	}, nil
}

func runtimeName(c *Config) string {
	if c.Runtime == "" {
		return "built-in"
	}
	return c.Runtime
}

// checkStatic checks that the site server binary is statically linked:
// FROM scratch has no libc.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("static site server %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("static sites need a statically linked server binary (build it with CGO_ENABLED=0); %s is dynamically linked", path)
		}
	}
	return nil
}

var _ sources.VolumeDeclarer = (*Config)(nil)

// NamedVolumes are the named volumes a site's container mounts: a deno
// site's storage.
func (c *Config) NamedVolumes(w *sources.Workload) map[string]string {
	if c.Runtime != "deno" || c.Storage == "" {
		return nil
	}
	return map[string]string{"data": c.Storage}
}

// DefaultServer is the site server static-site images run: berth-site
// beside the running executable when it is there (a few MB), else the
// executable itself (`berth serve-static`: the whole berth binary in every
// site image).
func DefaultServer() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if site := filepath.Join(filepath.Dir(exe), "berth-site"); fileExists(site) {
		return site
	}
	return exe
}

func fileExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular()
}
