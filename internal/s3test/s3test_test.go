package s3test

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestStartStop(t *testing.T) {
	t.Parallel()
	s, err := Start(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Endpoint, "127.0.0.1:") || s.AccessKey == "" || s.SecretKey == "" {
		t.Errorf("server = %+v, want a loopback endpoint and credentials", s)
	}

	// Anonymous requests must be refused: the server runs with auth.
	resp, err := http.Get(s.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous GET / = %d, want %d", resp.StatusCode, http.StatusForbidden)
	}

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("process still running after Stop")
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop = %v, want nil", err)
	}
	if _, err := http.Get(s.URL() + "/"); err == nil {
		t.Error("server still answers after Stop")
	}
}

func TestStartCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if s, err := Start(ctx, t.TempDir()); err == nil {
		s.Stop()
		t.Fatal("Start with a cancelled context succeeded")
	}
}

func TestBinary(t *testing.T) {
	t.Parallel()
	p, err := Binary()
	if err != nil {
		t.Fatalf("%v (the S3 tests need it)", err)
	}
	if !strings.HasSuffix(p, "versitygw") {
		t.Errorf("Binary() = %q", p)
	}
}
