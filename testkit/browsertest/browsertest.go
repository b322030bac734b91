// Package browsertest drives Debian's chromium, headless, through the
// DevTools protocol (chromedp), for tests of the web UI in a real browser.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// New starts a fresh headless chromium and returns a context for
// chromedp.Run and chromedp.Do; the browser is closed when the test ends. The browser
// resolves no host name but 127.0.0.1 and localhost, so a test can only
// reach what it started. Without chromium the test is skipped (failed in
// CI).
func New(t testing.TB) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is required in CI (apt-get install chromium)")
		}
		t.Skip("no chromium (apt-get install chromium)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, // tests run as root in CI containers
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // start the browser now, without a timeout: a failure is clear
		t.Fatalf("starting %s: %v", path, err)
	}
	// Every action after this one is bounded; the browser lives until the
	// test ends.
	ctx, cancelTimeout := context.WithTimeout(ctx, 8*time.Minute) // a bound, not a speed goal: CI runs packages side by side (241 s seen beside the Swarm and preview tests)
	t.Cleanup(cancelTimeout)
	return ctx
}
