package sources

// Step names a point in a deploy where a crash test may stop the process,
// to prove that the next tick converges.
type Step string

// The steps a Failpoint hook is called at.
const (
	FailAfterGreenStart Step = "after-green-start"
	FailAfterGate       Step = "after-gate"
	FailAfterRoute      Step = "after-route"
	FailAfterPersist    Step = "after-persist"
	FailAfterBlueStop   Step = "after-blue-stop"
)

// Steps lists every failpoint step in deploy order.
var Steps = []Step{FailAfterGreenStart, FailAfterGate, FailAfterRoute, FailAfterPersist, FailAfterBlueStop}

// FailpointExitCode is the exit status a process stopped by a failpoint
// uses, so crash tests can tell it from a real failure.
const FailpointExitCode = 86

func (e *Engine) failpoint(step Step) {
	if e.opts.Failpoint != nil {
		e.opts.Failpoint(step)
	}
}
