package crawler

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite golden files and encoded charset fixtures")

func TestMain(m *testing.M) {
	code := m.Run()
	if err := closeSharedBrowser(); err != nil {
		fmt.Fprintln(os.Stderr, "closing the shared browser:", err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testLogger routes log lines to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// shared is the one Browser of the test binary (one Chrome, a new tab per
// test), with its Fetcher. Its guard lets through the addresses tests
// register as stand-ins for public ones.
var shared struct {
	once    sync.Once
	f       *Fetcher
	b       *Browser
	public  sync.Map // netip.AddrPort → true
	chromes []*chrome
}

// testBrowser returns the shared Browser. Chromium missing is a failure.
func testBrowser(t *testing.T) *Browser {
	t.Helper()
	if _, err := findChrome(""); err != nil {
		t.Fatalf("the browser tests need Chromium (make chromium installs it): %v", err)
	}
	shared.once.Do(func() {
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		shared.f = New(Config{Logger: log})
		shared.f.policy = func(ap netip.AddrPort) error {
			if _, ok := shared.public.Load(ap); ok {
				return nil
			}
			return publicOnly(ap)
		}
		shared.b = shared.f.NewBrowser(BrowserConfig{
			Tabs:        4,
			PageTimeout: 40 * time.Second,
			HangTimeout: 3 * time.Second,
			Logger:      log,
		})
	})
	return shared.b
}

// closeSharedBrowser closes the shared Browser and checks that no process
// of any Chrome it started is left.
func closeSharedBrowser() error {
	if shared.b == nil {
		return nil
	}
	b := shared.b
	b.mu.Lock()
	var dirs []string
	for c := range b.all {
		dirs = append(dirs, c.dir)
	}
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := b.Close(ctx)
	shared.f.Close()
	for _, dir := range dirs {
		if pids := chromeProcesses(dir); len(pids) > 0 {
			return fmt.Errorf("processes %v of the Chrome with %s are left", pids, dir)
		}
	}
	return err
}
