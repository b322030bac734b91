package fault

// Step names a point in a deploy or a pull where a crash test may stop the
// process, to prove that the next tick converges.
type Step string

// The steps a failpoint hook is called at.
const (
	FailAfterGreenStart Step = "after-green-start" // blue-green
	FailAfterOldStop    Step = "after-old-stop"    // recreate
	FailAfterNewStart   Step = "after-new-start"   // recreate
	FailAfterGate       Step = "after-gate"
	FailAfterRoute      Step = "after-route"
	FailAfterPersist    Step = "after-persist"
	FailAfterBlueStop   Step = "after-blue-stop" // blue-green
	// FailAfterCheckout is in the git pull: the work tree was reset to
	// the new commit but the checkout was not recorded yet.
	FailAfterCheckout Step = "after-checkout"
)

// FailpointExitCode is the exit status a process stopped by a failpoint
// uses, so crash tests can tell it from a real failure.
const FailpointExitCode = 86
