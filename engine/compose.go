package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/berthops/berth/internal/atomicfile"
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/sources/compose"
)

// Compose runs `docker compose` for compose workloads (and the docker CLI
// for Swarm).
type Compose struct {
	// Docker is the docker CLI; default "docker".
	Docker string
	// Dir holds the generated label override files and the kept copies of
	// each release's compose folder.
	Dir string
	// Env is the environment of every docker compose process (PATH,
	// DOCKER_HOST, ...), before the workload's own variables.
	Env []string
	// Wait is how long `up` waits for every service to run (and be
	// healthy, when it has a healthcheck); default 2m.
	Wait time.Duration
	// Timeout bounds each docker compose process (pulls and builds
	// included); it is killed after it; default 10m.
	Timeout time.Duration
}

// Up deploys the project in file: `docker compose -p <project> -f file -f
// <labels override> up -d --remove-orphans --wait` (plus --force-recreate
// when asked). labels go on every service's containers so the agent's one
// `docker ps -a` finds them; vars are the interpolation variables (the
// workload's env and shared secrets), passed in the process environment,
// never written to a file. A service that does not run (or is unhealthy)
// within Wait fails the up. On failure the error is a *fault.ToolError.
func (s *Compose) Up(ctx context.Context, project, file string, labels map[string]string, vars []string, recreate bool) error {
	file, names, err := readServices(file)
	if err != nil {
		return err
	}
	override, err := s.writeOverride(project, names, labels, nil)
	if err != nil {
		return err
	}
	wait := s.Wait
	if wait <= 0 {
		wait = 2 * time.Minute
	}
	args := []string{"compose", "-p", project, "-f", file, "-f", override, "up", "-d", "--remove-orphans",
		"--wait", "--wait-timeout", strconv.Itoa(int(max(wait.Seconds(), 1)))}
	if recreate {
		args = append(args, "--force-recreate")
	}
	return s.run(ctx, filepath.Dir(file), "docker compose up", vars, args...)
}

// readServices makes file absolute (compose runs in the file's folder)
// and lists its services.
func readServices(file string) (string, []string, error) {
	file, err := filepath.Abs(file)
	if err != nil {
		return "", nil, err
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return "", nil, fmt.Errorf("reading the compose file: %w", err)
	}
	names, err := compose.Services(data)
	return file, names, err
}

// Rendered is the project as docker compose will run it (`docker compose
// config --format json`: interpolated, with relative paths resolved), for
// the policy check before an up.
func (s *Compose) Rendered(ctx context.Context, project, file string, vars []string) ([]byte, error) {
	file, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	err = s.runOut(ctx, filepath.Dir(file), "docker compose config", vars, &out, "compose", "-p", project, "-f", file, "config", "--format", "json")
	return out.Bytes(), err
}

// Down removes the stack (`docker compose -p <project> down`).
func (s *Compose) Down(ctx context.Context, project string) error {
	return s.run(ctx, s.Dir, "docker compose down", nil, "compose", "-p", project, "down", "--remove-orphans")
}

func (s *Compose) run(ctx context.Context, dir, tool string, vars []string, args ...string) error {
	return s.runOut(ctx, dir, tool, vars, nil, args...)
}

// runOut runs docker compose; stdout goes to stdout when it is not nil
// (and is then kept out of the error's output).
func (s *Compose) runOut(ctx context.Context, dir, tool string, vars []string, stdout *bytes.Buffer, args ...string) error {
	bin := s.Docker
	if bin == "" {
		bin = "docker"
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	return fault.Deadline(ctx, timeout, "--compose-timeout", func(ctx context.Context) error {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.Env = append(append(append([]string{}, s.Env...), vars...), "COMPOSE_PROGRESS=plain", "COMPOSE_ANSI=never")
		cmd.WaitDelay = 5 * time.Second // after the kill, stop waiting for its output
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if stdout != nil {
			cmd.Stdout = stdout
		}
		if err := cmd.Run(); err != nil {
			te := &fault.ToolError{Tool: tool, Output: out.String(), Err: err}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				te.ExitCode = ee.ExitCode()
			}
			return te
		}
		return nil
	})
}

// writeOverride writes the compose override that labels every service's
// containers (and, for Swarm, the services themselves: deployLabels).
func (s *Compose) writeOverride(project string, names []string, labels, deployLabels map[string]string) (string, error) {
	svcs := map[string]any{}
	for _, n := range names {
		svc := map[string]any{"labels": labels}
		if deployLabels != nil {
			svc["deploy"] = map[string]any{"labels": deployLabels}
		}
		svcs[n] = svc
	}
	b, err := yaml.Marshal(map[string]any{"services": svcs})
	if err != nil {
		return "", err
	}
	path, err := filepath.Abs(filepath.Join(s.Dir, project+".labels.yml"))
	if err != nil {
		return "", err
	}
	if err := atomicfile.Write(path, b, 0o644); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	return path, nil
}
