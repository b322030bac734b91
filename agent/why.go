package agent

import (
	"fmt"
	"strings"
)

// WhyKind is the cause of a deploy.
type WhyKind string

// The causes.
const (
	WhyNew      WhyKind = "new"      // never deployed here
	WhyChanged  WhyKind = "changed"  // the desired hash moved
	WhyRetry    WhyKind = "retry"    // the last deploy failed
	WhyVanished WhyKind = "vanished" // the serving container is gone (self-heal)
	WhyStopped  WhyKind = "stopped"  // the serving container stopped (self-heal)
	WhyPinned   WhyKind = "pinned"   // a rollback pinned an earlier release
	WhyRestore  WhyKind = "restore"  // a volume was restored from a snapshot
)

// Why says why a workload deploys; it goes into the deploy events, so
// every redeploy explains itself.
type Why struct {
	Kind WhyKind
	// Fields are, for WhyChanged, the fields whose values moved (empty when
	// the applied spec is unknown).
	Fields []string
	// Commit is, for WhyPinned, the commit of the pinned release.
	Commit string
}

// maxWhyFields caps how many changed fields a reason names.
const maxWhyFields = 6

func (w Why) String() string {
	switch w.Kind {
	case WhyNew:
		return "new workload"
	case WhyRestore:
		return "a volume was restored from a snapshot"
	case WhyChanged:
		if len(w.Fields) == 0 {
			return "config changed"
		}
		if len(w.Fields) > maxWhyFields {
			return fmt.Sprintf("config changed: %s and %d more", strings.Join(w.Fields[:maxWhyFields], ", "), len(w.Fields)-maxWhyFields)
		}
		return "config changed: " + strings.Join(w.Fields, ", ")
	case WhyRetry:
		return "retrying the last failed deploy"
	case WhyVanished:
		return "its container vanished (self-heal)"
	case WhyStopped:
		return "its container stopped (self-heal)"
	case WhyPinned:
		return "pinned to " + shortSHA(w.Commit) + " (rollback)"
	}
	return string(w.Kind)
}
