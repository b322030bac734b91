package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/berthops/berth/internal/fault"
	"github.com/compose-spec/compose-go/v2/types"
)

// Compose runs `docker compose` for compose workloads (and the docker CLI
// for Swarm).
type Compose struct {
	// Docker is the docker CLI; default "docker".
	Docker string
	// Dir holds the kept copies of each release's compose folder.
	Dir string
	// Env is the whole environment of every docker CLI process (PATH,
	// DOCKER_HOST, DOCKER_CONFIG: the operator's); nothing from the config
	// repo is added to it.
	Env []string
	// Wait is how long `up` waits for every service to run (and be
	// healthy, when it has a healthcheck); default 2m.
	Wait time.Duration
	// Timeout bounds each docker compose process (pulls and builds
	// included); it is killed after it; default 10m.
	Timeout time.Duration
}

// Up brings up the rendered project p — the object the policy checked —
// as it is: `docker compose -p <name> --project-directory <dir> -f - up
// --no-start`, then check (what Docker created, before anything starts;
// a refusal removes it again), then `up -d --wait`; the project is
// written to the CLI's standard input
// (never to a file: it holds the workload's secrets). labels go on every
// service's containers so the agent's one `docker ps -a` finds them. The
// process's environment is the operator's (s.Env) and nothing from the
// repo: every variable was interpolated when the project was rendered. A
// service that does not run (or is unhealthy) within Wait fails the up.
// On failure the error is a *fault.ToolError.
func (s *Compose) Up(ctx context.Context, p *types.Project, labels map[string]string, recreate bool, check func(ctx context.Context) error) error {
	doc, err := applied(p, labels, nil)
	if err != nil {
		return err
	}
	wait := s.Wait
	if wait <= 0 {
		wait = 2 * time.Minute
	}
	base := []string{"compose", "-p", p.Name, "--project-directory", p.WorkingDir, "-f", "-", "up", "--remove-orphans"}
	create := append(slices.Clone(base), "--no-start")
	if recreate {
		create = append(create, "--force-recreate")
	}
	if err := s.runIn(ctx, p.WorkingDir, "docker compose up", doc, nil, create...); err != nil {
		return err
	}
	if check != nil {
		if err := check(ctx); err != nil {
			if derr := s.Down(context.WithoutCancel(ctx), p.Name); derr != nil {
				return errors.Join(err, derr)
			}
			return err
		}
	}
	start := append(slices.Clone(base), "-d", "--wait", "--wait-timeout", strconv.Itoa(int(max(wait.Seconds(), 1))))
	return s.runIn(ctx, p.WorkingDir, "docker compose up", doc, nil, start...)
}

// applied is the YAML handed to the docker CLI for p: p with Berth's
// labels on every service (and deployLabels on each Swarm service), every
// "$" escaped (the CLI interpolates again; p already is), and without the
// top-level name (the CLI gets it as an argument; docker stack deploy's
// schema has no such key).
func applied(p *types.Project, labels, deployLabels map[string]string) ([]byte, error) {
	p, err := p.WithServicesTransform(func(name string, svc types.ServiceConfig) (types.ServiceConfig, error) {
		l := make(types.Labels, len(svc.Labels)+len(labels)) // a copy, never the caller's map
		maps.Copy(l, svc.Labels)
		maps.Copy(l, labels)
		svc.Labels = l
		if deployLabels != nil {
			if svc.Deploy == nil {
				svc.Deploy = &types.DeployConfig{}
			}
			dl := make(types.Labels, len(svc.Deploy.Labels)+len(deployLabels))
			maps.Copy(dl, svc.Deploy.Labels)
			maps.Copy(dl, deployLabels)
			svc.Deploy.Labels = dl
		}
		return svc, nil
	})
	if err != nil {
		return nil, err
	}
	out, err := p.MarshalYAML()
	if err != nil {
		return nil, fmt.Errorf("writing the rendered project: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(out, &doc); err != nil {
		return nil, fmt.Errorf("writing the rendered project: %w", err)
	}
	root := doc.Content[0]
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "name" {
			root.Content = append(root.Content[:i], root.Content[i+2:]...)
			break
		}
	}
	escapeDollars(root)
	return yaml.Marshal(&doc)
}

// escapeDollars doubles every "$" in the values of n: what the CLI
// interpolates again must come out as rendered.
func escapeDollars(n *yaml.Node) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			escapeDollars(n.Content[i])
		}
	case yaml.SequenceNode, yaml.DocumentNode:
		for _, c := range n.Content {
			escapeDollars(c)
		}
	case yaml.ScalarNode:
		n.Value = strings.ReplaceAll(n.Value, "$", "$$")
	}
}

// Down removes the stack (`docker compose -p <project> down`).
func (s *Compose) Down(ctx context.Context, project string) error {
	return s.run(ctx, s.Dir, "docker compose down", "compose", "-p", project, "down", "--remove-orphans")
}

func (s *Compose) run(ctx context.Context, dir, tool string, args ...string) error {
	return s.runIn(ctx, dir, tool, nil, nil, args...)
}

// runIn runs the docker CLI with stdin as its standard input; stdout goes
// to stdout when it is not nil (and is then kept out of the error's
// output). Its environment is the operator's: s.Env, never a value from
// the config repo.
func (s *Compose) runIn(ctx context.Context, dir, tool string, stdin []byte, stdout *bytes.Buffer, args ...string) error {
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
		cmd.Env = append(append([]string{}, s.Env...), "COMPOSE_PROGRESS=plain", "COMPOSE_ANSI=never")
		cmd.WaitDelay = 5 * time.Second // after the kill, stop waiting for its output
		if stdin != nil {
			cmd.Stdin = bytes.NewReader(stdin)
		}
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

// operatorVars are the variables of the agent's environment a docker CLI
// may see: where the daemon and the registry logins are, and what any
// process needs. Nothing else of the agent's environment (its cloud
// credentials, say) and nothing from the config repo.
var operatorVars = []string{"PATH", "HOME", "USER", "LANG", "LC_ALL", "TMPDIR", "XDG_RUNTIME_DIR",
	"DOCKER_CONFIG", "DOCKER_CERT_PATH", "DOCKER_TLS_VERIFY", "DOCKER_CONTEXT",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"}

// CLIEnv is the environment of the docker CLI processes Berth runs, built
// from scratch: operatorVars from environ, and DOCKER_HOST (the
// operator's --docker-host, else environ's).
func CLIEnv(environ []string, dockerHost string) []string {
	var env []string
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if k == "DOCKER_HOST" && dockerHost == "" {
			dockerHost = v
		}
		if slices.Contains(operatorVars, k) {
			env = append(env, kv)
		}
	}
	if dockerHost != "" {
		env = append(env, "DOCKER_HOST="+dockerHost)
	}
	return env
}
