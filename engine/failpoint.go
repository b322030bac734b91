package engine

import (
	"github.com/berthops/berth/internal/fault"
	"github.com/berthops/berth/sources"
)

// Steps lists every failpoint step of a strategy in deploy order.
var Steps = map[sources.Strategy][]fault.Step{
	sources.StrategyBlueGreen: {fault.FailAfterGreenStart, fault.FailAfterGate, fault.FailAfterRoute, fault.FailAfterPersist, fault.FailAfterBlueStop},
	sources.StrategyRecreate:  {fault.FailAfterOldStop, fault.FailAfterNewStart, fault.FailAfterGate, fault.FailAfterRoute, fault.FailAfterPersist},
}

func (e *Engine) failpoint(step fault.Step) {
	if e.opts.Failpoint != nil {
		e.opts.Failpoint(step)
	}
}
