package bench

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/berthops/berth/agent/store"
	"github.com/berthops/berth/testkit/agenttest"
	"github.com/berthops/berth/testkit/loopback"
)

// BenchmarkAgentRSS runs `berth agent` (the static binary, as shipped:
// embedded proxy, API, event stream) idle over 200 and 1,000 workloads and
// prints its resident memory once it has ticked a few times.
func BenchmarkAgentRSS(b *testing.B) {
	for _, n := range []int{200, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			h := agenttest.New(b)
			desired, commit := workers(b, h, n)
			st, err := store.Open(context.Background(), filepath.Join(h.StateDir, "berth.db"))
			if err != nil {
				b.Fatal(err)
			}
			seedIdleState(b, h, st, desired, commit, n)
			st.Close()
			rss, peak, anon := agentRSS(b, h, 5)
			for b.Loop() { // the figures come from one agent process
			}
			b.ReportMetric(rss, "rss-MiB")
			b.ReportMetric(peak, "peak-rss-MiB")
			fmt.Printf("berth agent idle at %d workloads (%d containers): RSS %.1f MiB (anonymous %.1f MiB), peak %.1f MiB\n", n, n, rss, anon, peak)
		})
	}
}

// agentRSS starts `berth agent` on the harness, waits for ticks idle
// ticks, and reads its memory from /proc (MiB): resident, peak resident,
// anonymous.
func agentRSS(b *testing.B, h *agenttest.Harness, ticks int) (rss, peak, anon float64) {
	listen := loopback.FreeAddr(b)
	cmd := exec.Command(agenttest.Berth(b), "agent", "--repo", h.Repo.URL, "--state-dir", h.StateDir, "--agent-name", h.Name,
		"--self-heal=false", "--router", "embedded", "--http", loopback.FreeAddr(b), "--https", "", "--listen", listen,
		"--schedule", "@every 1s", "--status-branch", "", "--log-level", "warn")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	idle := regexp.MustCompile(`(?m)^berth_ticks_total\{result="idle"\} (\d+)`)
	for range 240 { // bounded: 2 min
		time.Sleep(500 * time.Millisecond)
		resp, err := http.Get("http://" + listen + "/metrics")
		if err != nil {
			continue
		}
		var body strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			body.WriteString(sc.Text() + "\n")
		}
		resp.Body.Close()
		if m := idle.FindStringSubmatch(body.String()); m != nil {
			if n, _ := strconv.Atoi(m[1]); n >= ticks {
				return procMemory(b, cmd.Process.Pid)
			}
		}
	}
	b.Fatal("the agent never ticked idle")
	return 0, 0, 0
}

// procMemory reads VmRSS, VmHWM and RssAnon (MiB) of a process.
// A process that already exited reads as zeros.
func procMemory(b *testing.B, pid int) (rss, peak, anon float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		case "RssAnon:":
			anon = kb / 1024
		}
	}
	return rss, peak, anon
}
