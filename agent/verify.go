package agent

import (
	"context"
	"fmt"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/gitops"
)

// untrusted handles a config tip that no trusted key signed
// (--trusted-signers): the agent keeps running the last verified commit
// and says so once per rejected commit, in the log, the event log and the
// status branch. It returns the commit to go on with, "" when none was
// ever verified.
func (a *Agent) untrusted(ctx context.Context, uv *gitops.UnverifiedError, res *TickResult) string {
	sig := uv.Signature
	res.Unverified = &sig
	if a.rejected == sig.Commit {
		return uv.Kept
	}
	a.rejected = sig.Commit
	res.announce = true
	running := "nothing is deployed until a signed commit arrives"
	if uv.Kept != "" {
		running = "still running " + shortSHA(uv.Kept)
	}
	res.Note = fmt.Sprintf("config commit %s is not verified (%s); %s", shortSHA(sig.Commit), sig.Reason, running)
	a.log.Warn("config commit not verified", "commit", shortSHA(sig.Commit), "reason", sig.Reason, "kept", shortSHA(uv.Kept))
	a.events.add(ctx, store.Event{Kind: string(KindCommitUnverified), Severity: store.SeverityError, Commit: sig.Commit,
		Message:  res.Note,
		Metadata: map[string]string{"commit": sig.Commit, "format": sig.Format, "reason": sig.Reason, "kept": uv.Kept}})
	return uv.Kept
}
