package fault

import (
	"fmt"
	"strings"
)

// ToolError is a failed external command, such as `docker compose up`. Its
// Error carries the (redacted) output for the log and the returned error;
// events and statuses, which leave the host, use Reason, which never
// includes tool output: it can echo secrets.
type ToolError struct {
	Tool     string // "docker compose up"
	ExitCode int
	Output   string // combined output, already redacted
	Err      error
}

func (e *ToolError) Error() string {
	return fmt.Sprintf("%s: %v\n%s", e.Tool, e.Err, strings.TrimSpace(e.Output))
}

func (e *ToolError) Unwrap() error { return e.Err }

// Reason is a generic, output-free description of the failure.
func (e *ToolError) Reason() string {
	if e.ExitCode > 0 {
		return fmt.Sprintf("%s failed (exit status %d); see the agent's debug log", e.Tool, e.ExitCode)
	}
	return fmt.Sprintf("%s failed; see the agent's debug log", e.Tool)
}
