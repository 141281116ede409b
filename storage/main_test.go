package storage

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/wildwatch/wildwatch/internal/s3test"
)

// The package's tests share one S3 server, started by the first test that
// asks for it (testS3Server) and stopped here once every test has run.
var s3Test struct {
	once   sync.Once
	dir    string
	server *s3test.Server
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if s3Test.server != nil {
		if err := s3Test.server.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stopping the S3 test server:", err)
			code = 1
		}
	}
	if s3Test.dir != "" {
		os.RemoveAll(s3Test.dir)
	}
	if code == 0 {
		// Idle keep-alive connections of HTTP clients wind down on their own
		// schedule; they are not leaks.
		if err := goleak.Find(
			goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
			goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
			goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testS3Server returns the package's S3 server, starting it on first use.
// A missing versitygw binary fails the test with the install command.
func testS3Server(t testing.TB) *s3test.Server {
	t.Helper()
	s3Test.once.Do(func() {
		s3Test.dir, s3Test.err = os.MkdirTemp("", "wildwatch-s3-")
		if s3Test.err != nil {
			return
		}
		s3Test.server, s3Test.err = s3test.Start(context.Background(), s3Test.dir)
	})
	if s3Test.err != nil {
		t.Fatalf("S3 test server: %v", s3Test.err)
	}
	return s3Test.server
}
