package s3test

import (
	"context"
	"net/http"
	"testing"
)

func TestRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Start(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop() })
	endpoint, access, secret := s.Endpoint, s.AccessKey, s.SecretKey

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(s.URL() + "/"); err == nil {
		resp.Body.Close()
		t.Fatalf("the stopped server answered %d", resp.StatusCode)
	}

	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Endpoint != endpoint || s.AccessKey != access || s.SecretKey != secret {
		t.Errorf("after Restart the server is %s (%s), want %s (%s) with the same secret", s.Endpoint, s.AccessKey, endpoint, access)
	}
	resp, err := http.Get(s.URL() + "/")
	if err != nil {
		t.Fatalf("the restarted server does not answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("anonymous GET / = %d, want %d", resp.StatusCode, http.StatusForbidden)
	}

	// Restart also stops a running server first.
	if err := s.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("process still running after Stop")
	}
}
