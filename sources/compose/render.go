package compose

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"
)

// ErrOutside is a compose file that makes Berth read a file outside its
// release, or a remote one, while it renders the project.
var ErrOutside = errors.New("reads outside the release")

// Render loads a compose (or Swarm stack) file the way docker compose
// does, inside Berth, once: the project that is checked and then applied.
//
//   - Interpolation sees vars only (the workload's env and shared
//     secrets): never the agent's environment, never a .env beside the
//     file.
//   - Every file the loader reads (the file, includes, extends, env files,
//     label files) must be inside dir, the release's own copy; a remote
//     include or extends is refused. These reads happen while loading, so
//     they are checked before the loader runs, on the files themselves.
//   - Relative paths are resolved against dir.
func Render(ctx context.Context, dir, file, project string, vars map[string]string) (*types.Project, error) {
	dir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, fmt.Errorf("the release folder: %w", err)
	}
	main, err := inside(dir, dir, file)
	if err != nil {
		return nil, err
	}
	if err := scanReads(dir, main, map[string]bool{}); err != nil {
		return nil, err
	}
	env := make([]string, 0, len(vars))
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	opts, err := cli.NewProjectOptions([]string{main},
		cli.WithWorkingDirectory(dir),
		cli.WithEnv(env),
		cli.WithName(project),
		cli.WithResolvedPaths(true),
		cli.WithLoadOptions(func(o *loader.Options) {
			o.ResourceLoaders = []loader.ResourceLoader{releaseFiles{dir: dir}}
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("loading the compose project: %w", err)
	}
	p, err := opts.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading the compose project: %w", err)
	}
	return p, nil
}

// releaseFiles resolves every include and extends file the loader asks
// for: inside the release, or an error. It is the loader's first
// resource loader, so the built-in one (any local path) never sees them.
type releaseFiles struct{ dir string }

func (r releaseFiles) Accept(string) bool { return true }

func (r releaseFiles) Load(_ context.Context, p string) (string, error) {
	return inside(r.dir, r.dir, p)
}

func (r releaseFiles) Dir(p string) string { return filepath.Dir(p) }

// inside resolves p (relative to base) and its symlinks, and returns it
// when it stays inside dir.
func inside(dir, base, p string) (string, error) {
	if remote(p) {
		return "", fmt.Errorf("%w: %s is a remote resource (only files of the config repo are read)", ErrOutside, p)
	}
	if strings.Contains(p, "$") {
		return "", fmt.Errorf("%w: %s is interpolated (a file read while loading must be named literally)", ErrOutside, p)
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(base, p)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", rel(dir, p), err)
	}
	r, err := filepath.Rel(dir, real)
	if err != nil || !filepath.IsLocal(r) {
		return "", fmt.Errorf("%w: %s is outside the release folder", ErrOutside, p)
	}
	return real, nil
}

func remote(p string) bool {
	return strings.Contains(p, "://") || strings.HasPrefix(p, "git@") || strings.HasPrefix(p, "oci:")
}

func rel(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil && filepath.IsLocal(r) {
		return r
	}
	return p
}

// scanReads checks, before the loader runs, every file a compose file
// makes the loader read: include paths, their env files and project
// folders, and the services' env files, label files and extends files;
// it follows includes (inside the release) the same way.
func scanReads(dir, file string, seen map[string]bool) error {
	if seen[file] {
		return nil
	}
	seen[file] = true
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading %s: %w", rel(dir, file), err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: the compose file does not parse: %w", rel(dir, file), err)
	}
	base := filepath.Dir(file)
	where := rel(dir, file)
	for i, inc := range list(doc["include"]) {
		field := fmt.Sprintf("%s: include.%d", where, i)
		entry, _ := inc.(map[string]any)
		paths := strs(inc)
		if entry != nil {
			paths = strs(entry["path"])
		}
		incBase := base
		if entry != nil {
			if pd, ok := entry["project_directory"].(string); ok {
				d, err := inside(dir, base, pd)
				if err != nil {
					return fmt.Errorf("%s.project_directory: %w", field, err)
				}
				incBase = d
			}
			for _, f := range strs(entry["env_file"]) {
				if _, err := inside(dir, base, f); err != nil {
					return fmt.Errorf("%s.env_file: %w", field, err)
				}
			}
		}
		for _, p := range paths {
			real, err := inside(dir, base, p)
			if err != nil {
				return fmt.Errorf("%s.path: %w", field, err)
			}
			if err := scanReads(dir, real, seen); err != nil {
				return err
			}
			if _, err := os.Stat(filepath.Join(incBase, ".env")); err == nil {
				if _, err := inside(dir, incBase, ".env"); err != nil {
					return fmt.Errorf("%s: %w", field, err)
				}
			}
		}
	}
	svcs, _ := doc["services"].(map[string]any)
	for name, s := range svcs {
		svc, _ := s.(map[string]any)
		for _, key := range []string{"env_file", "label_file"} {
			for _, f := range envFiles(svc[key]) {
				if _, err := inside(dir, base, f); err != nil {
					return fmt.Errorf("%s: services.%s.%s: %w", where, name, key, err)
				}
			}
		}
		if ext, ok := svc["extends"].(map[string]any); ok {
			if f, ok := ext["file"].(string); ok {
				real, err := inside(dir, base, f)
				if err != nil {
					return fmt.Errorf("%s: services.%s.extends.file: %w", where, name, err)
				}
				if err := scanReads(dir, real, seen); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return nil
}

// strs is a string or a list of strings.
func strs(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, e := range t {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// envFiles is an env_file value: a string, or a list of strings and
// {path: …} entries.
func envFiles(v any) []string {
	out := strs(v)
	for _, e := range list(v) {
		if m, ok := e.(map[string]any); ok {
			if p, ok := m["path"].(string); ok {
				out = append(out, p)
			}
		}
	}
	return out
}
