package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/berthops/berth/agent"
	"github.com/berthops/berth/agent/api"
	"github.com/berthops/berth/agent/store"
)

// BenchmarkWebhookMemory sends 60 webhook deliveries of 25 MiB at once,
// each with a forged signature, to a real agent's HTTP face, b.N times,
// and prints the process's peak RSS: only signed deliveries are read, and
// at most two at a time.
func BenchmarkWebhookMemory(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(b.TempDir(), "berth.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	log := slog.New(slog.DiscardHandler)
	a := agent.New(agent.Options{Name: "bench"}, noRepo{}, st, nil, log)
	srv := httptest.NewServer(api.New(a, st, log, api.Options{WebhookSecret: "bench-secret", Branch: "main"}).Handler())
	defer srv.Close()
	runtime.GC()
	before := vmHWM(b)
	for b.Loop() {
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := io.LimitReader(zeros{}, 25<<20) // streamed: the sender holds nothing
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/hooks/git", body)
				if err != nil {
					b.Error(err)
					return
				}
				req.ContentLength = 25 << 20
				if i%2 == 0 { // half claim a signature, half send none
					req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("ab", 32))
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the server may answer before it reads the body and close
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}()
		}
		wg.Wait()
	}
	peak := vmHWM(b)
	b.ReportMetric(float64(peak)/1024, "peak-RSS-MiB")
	fmt.Printf("60 parallel 25 MiB forged webhooks: peak RSS %.1f MiB (%.1f MiB before)\n", float64(peak)/1024, float64(before)/1024)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// vmHWM is this process's peak resident set, in KiB.
func vmHWM(b *testing.B) int {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status")
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

// noRepo is the config repo of an agent that never ticks.
type noRepo struct{}

func (noRepo) Pull(context.Context) (string, error) { return "", fmt.Errorf("no repo") }
func (noRepo) Dir() string                          { return "" }
func (noRepo) URL() string                          { return "" }
func (noRepo) Branch() string                       { return "main" }
