package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch/internal/s3test"
	"github.com/wildwatch/wildwatch/storage"
)

// parseServiceFlags parses args into serviceOptions as the commands do.
func parseServiceFlags(t *testing.T, env map[string]string, args ...string) serviceOptions {
	t.Helper()
	var o serviceOptions
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.register(fs, func(k string) string { return env[k] })
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return o
}

// TestEvidenceStoreRetentionFlags: --retention and --retention-mode reach
// the S3 store, are refused without S3 or on a bucket without object lock,
// and --tsa-url is read.
func TestEvidenceStoreRetentionFlags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	srv, err := s3test.Start(ctx, t.TempDir())
	if err != nil {
		t.Fatalf("starting the S3 server: %v", err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	env := map[string]string{"WILDWATCH_S3_ACCESS_KEY": srv.AccessKey, "WILDWATCH_S3_SECRET_KEY": srv.SecretKey}
	s3 := func(bucket string, more ...string) []string {
		return append([]string{"--data", t.TempDir(), "--s3-endpoint", srv.Endpoint, "--s3-tls=false", "--s3-region", s3test.Region,
			"--s3-create-bucket", "--s3-bucket", bucket}, more...)
	}

	o := parseServiceFlags(t, env, s3("locked", "--retention", "30d", "--retention-mode", "compliance", "--tsa-url", "http://127.0.0.1:1/tsr")...)
	if o.tsaURL != "http://127.0.0.1:1/tsr" {
		t.Errorf("--tsa-url = %q", o.tsaURL)
	}
	store, err := openEvidenceStore(ctx, o, logger)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	info, err := store.Put(ctx, "k.json", strings.NewReader("{}"), 2, storage.ContentTypeManifest)
	if err != nil {
		t.Fatal(err)
	}
	if info.RetentionMode != storage.RetentionCompliance || info.RetainUntil.Before(before.Add(30*24*time.Hour-time.Second)) {
		t.Errorf("Put reports retention %q until %v, want COMPLIANCE for 30 days", info.RetentionMode, info.RetainUntil)
	}

	// The same settings from the environment.
	envRetention := map[string]string{"WILDWATCH_RETENTION": "1h", "WILDWATCH_RETENTION_MODE": "GOVERNANCE"}
	for k, v := range env {
		envRetention[k] = v
	}
	o = parseServiceFlags(t, envRetention, s3("locked-env")...)
	if store, err = openEvidenceStore(ctx, o, logger); err != nil {
		t.Fatal(err)
	}
	if info, err = store.Put(ctx, "k.json", strings.NewReader("{}"), 2, storage.ContentTypeManifest); err != nil || info.RetentionMode != storage.RetentionGovernance {
		t.Errorf("Put = %+v, %v; want GOVERNANCE retention", info, err)
	}

	if _, err := openEvidenceStore(ctx, parseServiceFlags(t, env, s3("plain")...), logger); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"bucket without object lock", s3("plain", "--retention", "365d"), []string{"plain", "object lock", "without --retention"}},
		{"no S3", []string{"--data", t.TempDir(), "--retention", "365d"}, []string{"--s3-endpoint"}},
		{"bad retention", s3("locked", "--retention", "a year"), []string{"--retention", "365d"}},
		{"bad mode", s3("locked", "--retention", "1d", "--retention-mode", "forever"), []string{"--retention-mode"}},
	}
	for _, tt := range tests {
		_, err := openEvidenceStore(ctx, parseServiceFlags(t, env, tt.args...), logger)
		if err == nil {
			t.Errorf("%s: opening the store succeeded", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tt.name, err, w)
			}
		}
	}
}
