package crawler

import (
	"flag"
	"log/slog"
	"testing"

	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite golden files and encoded charset fixtures")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testLogger routes log lines to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
