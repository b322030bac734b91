package engine

import (
	"bytes"
	"context"
	"errors"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/berthops/berth/docker"
	"github.com/berthops/berth/internal/fault"
)

// RunTask runs cmd once as service of the checked project p — `docker
// compose run --rm --no-deps -T`, the project on the CLI's standard input
// as for up — with the service's image (built when it has a build), env,
// volumes and networks, and nothing else of the project started. The
// container carries Berth's labels and the task label (the snapshot does
// not take it for a serving container). Its exit code is the task's.
func (s *Compose) RunTask(ctx context.Context, p *types.Project, labels map[string]string, service string, cmd []string, timeout time.Duration) (docker.TaskResult, error) {
	doc, err := applied(p, labels, nil)
	if err != nil {
		return docker.TaskResult{}, err
	}
	args := []string{"compose", "-p", p.Name, "--project-directory", p.WorkingDir, "-f", "-", "run", "--rm", "--no-deps", "-T",
		"--label", docker.LabelTask + "=" + labels[docker.LabelWorkload],
		"--", service} // the repo's service name and command are never read as the CLI's flags
	args = append(args, cmd...)
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	var out bytes.Buffer
	err = s.runIn(tctx, p.WorkingDir, "docker compose run", doc, &out, args...)
	res := docker.TaskResult{Took: time.Since(start)}
	var te *fault.ToolError
	switch {
	case err == nil:
	case tctx.Err() != nil && ctx.Err() == nil:
		res.TimedOut, res.ExitCode = true, -1
	case errors.As(err, &te) && te.ExitCode > 0:
		res.ExitCode = te.ExitCode
		out.WriteString(te.Output)
	default:
		return res, err
	}
	b := out.Bytes()
	if len(b) > docker.MaxTaskOutput {
		b = b[len(b)-docker.MaxTaskOutput:]
	}
	res.Output = b
	return res, nil
}
