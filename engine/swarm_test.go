package engine

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/berthops/berth/docker"
)

func TestJudgeRollout(t *testing.T) {
	since := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	after, before := since.Add(time.Second), since.Add(-time.Hour)
	svc := func(version uint64, update string, started time.Time, running, desired uint64) docker.ServiceState {
		return docker.ServiceState{Name: "shop_web", Version: version, Update: update, UpdateStarted: started, UpdateMessage: "msg", Running: running, Desired: desired}
	}
	prev := map[string]uint64{"shop_web": 10}
	tests := []struct {
		name    string
		svc     docker.ServiceState
		before  map[string]uint64
		elapsed time.Duration
		want    string // done, pending, paused, rolled back, failed
	}{
		{"untouched by this deploy", svc(10, "rollback_completed", before, 0, 2), prev, 0, "done"},
		{"new service, tasks starting", svc(1, "", time.Time{}, 1, 2), nil, time.Second, "pending"},
		{"new service, all running", svc(1, "", time.Time{}, 2, 2), nil, time.Second, "done"},
		{"updating", svc(11, "updating", after, 2, 2), prev, time.Second, "pending"},
		{"completed, all running", svc(12, "completed", after, 2, 2), prev, time.Second, "done"},
		{"completed, a task still starting", svc(12, "completed", after, 1, 2), prev, time.Second, "pending"},
		{"rolled back by Swarm", svc(14, "rollback_completed", after, 2, 2), prev, time.Second, "rolled back"},
		{"rollback under way", svc(13, "rollback_started", after, 2, 2), prev, time.Second, "pending"},
		{"paused: Berth asks for a rollback", svc(12, "paused", after, 1, 2), prev, time.Second, "paused"},
		{"the rollback paused too", svc(14, "rollback_paused", after, 1, 2), prev, time.Second, "failed"},
		{"a stale rollback from an earlier deploy is not this one's verdict", svc(15, "rollback_completed", before, 2, 2), prev, time.Second, "pending"},
		{"changed without an update (labels), settled", svc(15, "completed", before, 2, 2), prev, 6 * time.Second, "done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := judgeRollout([]docker.ServiceState{tt.svc}, tt.before, since, tt.elapsed)
			got := "done"
			switch {
			case r.failed != "":
				got = "failed"
			case len(r.paused) > 0:
				got = "paused"
			case len(r.pending) > 0:
				got = "pending"
			case r.rolledBack != "":
				got = "rolled back"
			}
			assert.Equal(t, tt.want, got, "%+v", r)
		})
	}
}
