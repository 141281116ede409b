package workers

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
)

func TestServiceOutage(t *testing.T) {
	t.Parallel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"catalog connection refused", fmt.Errorf("loading target of sweep s: %w", refused), true},
		{"evidence store reset", fmt.Errorf("storing warc: %w", syscall.ECONNRESET), true},
		{"a site refusing connections", &crawler.FetchError{Kind: wildwatch.ErrKindNetwork, Retryable: true, Err: refused}, false},
		{"a page error", &crawler.FetchError{Kind: wildwatch.ErrKindHTTP, Status: 500}, false},
		{"anything else", errors.New("listing has no title"), false},
	}
	for _, tc := range tests {
		if got := serviceOutage(tc.err); got != tc.want {
			t.Errorf("%s: serviceOutage(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
