package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage/evidencetest"
)

var s3BucketSeq atomic.Int64

// newTestS3 returns a store on a new bucket of the package's S3 server.
// Change cfg with edit before the store is made.
func newTestS3(t testing.TB, edit func(*S3Config)) *S3 {
	t.Helper()
	srv := testS3Server(t)
	cfg := S3Config{
		Endpoint:     srv.Endpoint,
		Bucket:       fmt.Sprintf("evidence-%03d", s3BucketSeq.Add(1)),
		AccessKey:    srv.AccessKey,
		SecretKey:    srv.SecretKey,
		Region:       "us-east-1",
		CreateBucket: true,
		Logger:       testLogger(t),
	}
	if edit != nil {
		edit(&cfg)
	}
	s, err := NewS3(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// testLogger routes logs to t.Log.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func TestS3Conformance(t *testing.T) {
	t.Parallel()
	evidencetest.Run(t, func(t *testing.T) wildwatch.EvidenceStore { return newTestS3(t, nil) })
}

// TestS3StoresExactBytes checks what the upload options are for: the object
// is stored as sent, with no Content-Encoding left by the transfer.
func TestS3StoresExactBytes(t *testing.T) {
	t.Parallel()
	s := newTestS3(t, nil)
	ctx := context.Background()
	for _, size := range []int{0, 1, 1000, 3<<20 + 7} {
		data := evidencetest.Bytes(uint64(size), size)
		key := fmt.Sprintf("exact/%d.warc.gz", size)
		if _, err := s.Put(ctx, key, bytes.NewReader(data), int64(len(data)), ContentTypeWARC); err != nil {
			t.Fatal(err)
		}
		st, err := s.client.StatObject(ctx, s.cfg.Bucket, key, minio.StatObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if ce := st.Metadata.Get("Content-Encoding"); ce != "" {
			t.Errorf("%s stored with Content-Encoding %q, want none", key, ce)
		}
		obj, err := s.client.GetObject(ctx, s.cfg.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		_, err = got.ReadFrom(obj)
		obj.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), data) {
			t.Errorf("%s: read back %d bytes that differ from the %d sent", key, got.Len(), len(data))
		}
	}
}

// TestS3ObjectLock stores into a bucket with object lock and a retention:
// the upload is accepted (it carries Content-MD5), the object is locked,
// Put, Stat and Get report the lock, and its version cannot be deleted.
func TestS3ObjectLock(t *testing.T) {
	t.Parallel()
	const retention = 24 * time.Hour
	s := newTestS3(t, func(c *S3Config) {
		c.ObjectLock = true
		c.Retention = retention
	})
	ctx := context.Background()
	before := time.Now()
	put, err := s.Put(ctx, "locked.json", strings.NewReader("{}"), 2, ContentTypeManifest)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	// minio-go cannot parse versitygw's GetObjectRetention answer; the
	// HEAD headers say the same.
	st, err := s.client.StatObject(ctx, s.cfg.Bucket, "locked.json", minio.StatObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Metadata.Get("X-Amz-Object-Lock-Mode"); got != string(minio.Governance) {
		t.Errorf("object lock mode = %q, want %s (headers %v)", got, minio.Governance, st.Metadata)
	}
	until, err := time.Parse(time.RFC3339, st.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"))
	if err != nil || !until.After(st.LastModified) {
		t.Errorf("retain until %q (%v), want after %v", st.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"), err, st.LastModified)
	}
	// The retain-until date is the retention from the time of the Put (the
	// server keeps whole seconds).
	if until.Before(before.Add(retention).Add(-time.Second)) || until.After(after.Add(retention).Add(time.Second)) {
		t.Errorf("retain until %v, want %v after the Put (between %v and %v)", until, retention, before, after)
	}

	stat, err := s.Stat(ctx, "locked.json")
	if err != nil {
		t.Fatal(err)
	}
	rc, got, err := s.Get(ctx, "locked.json")
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	for name, info := range map[string]wildwatch.ObjectInfo{"Put": put, "Stat": stat, "Get": got} {
		if info.RetentionMode != RetentionGovernance || !info.RetainUntil.Equal(until) {
			t.Errorf("%s reports retention %q until %v, want %s until %v", name, info.RetentionMode, info.RetainUntil, RetentionGovernance, until)
		}
	}

	err = s.client.RemoveObject(ctx, s.cfg.Bucket, "locked.json", minio.RemoveObjectOptions{VersionID: st.VersionID})
	if err == nil {
		t.Error("deleting the locked version succeeded")
	}
	if _, err := s.Put(ctx, "locked.json", strings.NewReader("[]"), 2, ContentTypeManifest); !errors.Is(err, wildwatch.ErrObjectExists) {
		t.Errorf("second Put = %v, want ErrObjectExists", err)
	}
}

// TestS3NoRetention: without a retention, objects are stored unlocked and
// reported so, even in a bucket with object lock.
func TestS3NoRetention(t *testing.T) {
	t.Parallel()
	for _, lock := range []bool{false, true} {
		s := newTestS3(t, func(c *S3Config) { c.ObjectLock = lock })
		info, err := s.Put(context.Background(), "k.json", strings.NewReader("{}"), 2, ContentTypeManifest)
		if err != nil {
			t.Fatal(err)
		}
		if info.RetentionMode != "" || !info.RetainUntil.IsZero() {
			t.Errorf("object lock %v: Put reports retention %q until %v, want none", lock, info.RetentionMode, info.RetainUntil)
		}
	}
}

// TestNewS3RetentionNeedsObjectLock: a retention on a bucket without object
// lock is refused at start, naming the bucket; a bucket the store creates
// for a retention gets object lock.
func TestNewS3RetentionNeedsObjectLock(t *testing.T) {
	t.Parallel()
	plain := newTestS3(t, nil) // creates the bucket, without object lock
	cfg := plain.cfg
	cfg.CreateBucket = false
	cfg.Retention = 365 * 24 * time.Hour
	cfg.RetentionMode = RetentionCompliance
	_, err := NewS3(context.Background(), cfg)
	if !errors.Is(err, ErrNoObjectLock) {
		t.Fatalf("NewS3 with a retention on %s = %v, want ErrNoObjectLock", cfg.Bucket, err)
	}
	for _, want := range []string{cfg.Bucket, "object lock", "365d", RetentionCompliance} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}

	s := newTestS3(t, func(c *S3Config) { c.Retention = time.Hour })
	enabled, _, _, _, err := s.client.GetObjectLockConfig(context.Background(), s.cfg.Bucket)
	if err != nil || enabled != "Enabled" {
		t.Errorf("bucket created for a retention: object lock %q, %v; want Enabled", enabled, err)
	}
	// The same bucket opened again passes the check.
	again := s.cfg
	again.CreateBucket = false
	if _, err := NewS3(context.Background(), again); err != nil {
		t.Errorf("NewS3 on a bucket with object lock: %v", err)
	}
}

// TestS3RetentionNotApplied: when the server does not report the lock
// asked for, Put still succeeds (the object is stored) but reports what it
// got and logs an error. A proxy hides the lock headers of HEAD answers.
func TestS3RetentionNotApplied(t *testing.T) {
	t.Parallel()
	target, err := url.Parse(testS3Server(t).URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(&httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			if resp.Request.Method == http.MethodHead {
				resp.Header.Del("X-Amz-Object-Lock-Mode")
				resp.Header.Del("X-Amz-Object-Lock-Retain-Until-Date")
			}
			return nil
		},
	})
	defer proxy.Close()
	logs, logger := newLogBuffer(t)
	s := newTestS3(t, func(c *S3Config) {
		c.Endpoint = strings.TrimPrefix(proxy.URL, "http://")
		c.Retention = time.Hour
		c.Logger = logger
	})
	info, err := s.Put(context.Background(), "k.json", strings.NewReader("{}"), 2, ContentTypeManifest)
	if err != nil {
		t.Fatalf("Put = %v, want the object stored", err)
	}
	if info.RetentionMode != "" || !info.RetainUntil.IsZero() {
		t.Errorf("Put reports retention %q until %v, want what the server said: none", info.RetentionMode, info.RetainUntil)
	}
	if out := logs.String(); !strings.Contains(out, "level=ERROR") || !strings.Contains(out, "without the retention asked for") {
		t.Errorf("no error logged:\n%s", out)
	}
}

// faultProxy forwards requests to the S3 server, answering the first
// failPuts PUT requests itself with 503 instead. It keeps the Host header,
// which the request signature covers.
type faultProxy struct {
	*httptest.Server
	mu       sync.Mutex
	failPuts int
	puts     int
	onFail   func()
}

func newFaultProxy(t *testing.T, failPuts int) *faultProxy {
	target, err := url.Parse(testS3Server(t).URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{failPuts: failPuts}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path != "/" && strings.Count(strings.Trim(r.URL.Path, "/"), "/") > 0 {
			p.mu.Lock()
			p.puts++
			fail := p.puts <= p.failPuts
			onFail := p.onFail
			p.mu.Unlock()
			if fail {
				if onFail != nil {
					onFail()
				}
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>`)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *faultProxy) putCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.puts
}

func TestS3PutRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		failPuts  int
		wantErr   bool
		wantTries int
	}{
		{"succeeds first time", 0, false, 1},
		{"transient failures", 2, false, 3},
		{"gives up", 100, true, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proxy := newFaultProxy(t, tt.failPuts)
			s := newTestS3(t, func(c *S3Config) {
				c.Endpoint = strings.TrimPrefix(proxy.URL, "http://")
				c.MaxAttempts = 3
				c.RetryDelay = time.Millisecond
			})
			data := evidencetest.Bytes(7, 10000)
			_, err := s.Put(context.Background(), "k/obj", bytes.NewReader(data), int64(len(data)), "")
			if (err != nil) != tt.wantErr {
				t.Fatalf("Put = %v, want error %v", err, tt.wantErr)
			}
			if got := proxy.putCount(); got != tt.wantTries {
				t.Errorf("%d PUT requests, want %d", got, tt.wantTries)
			}
			_, serr := s.Stat(context.Background(), "k/obj")
			if tt.wantErr && !errors.Is(serr, wildwatch.ErrObjectNotFound) {
				t.Errorf("after a failed Put, Stat = %v, want ErrObjectNotFound", serr)
			}
			if !tt.wantErr && serr != nil {
				t.Errorf("after Put, Stat = %v", serr)
			}
		})
	}
}

// TestS3PutRetryBoundedByContext cancels the context while Put waits to
// retry: Put returns at once instead of waiting out a long backoff.
func TestS3PutRetryBoundedByContext(t *testing.T) {
	t.Parallel()
	proxy := newFaultProxy(t, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	proxy.onFail = cancel
	s := newTestS3(t, func(c *S3Config) {
		c.Endpoint = strings.TrimPrefix(proxy.URL, "http://")
		c.RetryDelay = time.Hour
	})
	_, err := s.Put(ctx, "k/obj", strings.NewReader("x"), 1, "")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put = %v, want context.Canceled", err)
	}
	if got := proxy.putCount(); got != 1 {
		t.Errorf("%d PUT requests, want 1", got)
	}
}

// TestS3PutLostAnswer: the first PUT stores the object but its answer is
// lost; the retry meets 412 and recognises its own object.
func TestS3PutLostAnswer(t *testing.T) {
	t.Parallel()
	target, err := url.Parse(testS3Server(t).URL())
	if err != nil {
		t.Fatal(err)
	}
	var puts atomic.Int64
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, "/k/obj") && puts.Add(1) == 1 {
			rec := httptest.NewRecorder()
			rp.ServeHTTP(rec, r) // stored upstream…
			if rec.Code != http.StatusOK {
				t.Errorf("upstream PUT = %d", rec.Code)
			}
			w.WriteHeader(http.StatusBadGateway) // …but the client hears a failure
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	s := newTestS3(t, func(c *S3Config) {
		c.Endpoint = strings.TrimPrefix(proxy.URL, "http://")
		c.RetryDelay = time.Millisecond
	})
	if _, err := s.Put(context.Background(), "k/obj", strings.NewReader("mine"), 4, ""); err != nil {
		t.Fatalf("Put = %v, want success", err)
	}
	if got := puts.Load(); got != 2 {
		t.Errorf("%d PUT requests, want 2", got)
	}
	// Someone else's bytes are still refused.
	if _, err := s.Put(context.Background(), "k/obj", strings.NewReader("mine"), 4, ""); !errors.Is(err, wildwatch.ErrObjectExists) {
		t.Errorf("Put of an existing key = %v, want ErrObjectExists", err)
	}
}

func TestNewS3Errors(t *testing.T) {
	t.Parallel()
	srv := testS3Server(t)
	tests := []struct {
		name string
		cfg  S3Config
	}{
		{"no endpoint", S3Config{Bucket: "b"}},
		{"scheme in endpoint", S3Config{Endpoint: "http://" + srv.Endpoint, Bucket: "b"}},
		{"no bucket", S3Config{Endpoint: srv.Endpoint}},
		{"missing bucket", S3Config{Endpoint: srv.Endpoint, Bucket: "no-such-bucket", AccessKey: srv.AccessKey, SecretKey: srv.SecretKey}},
		{"bad retention mode", S3Config{Endpoint: srv.Endpoint, Bucket: "b", RetentionMode: "forever"}},
		{"wrong secret", S3Config{Endpoint: srv.Endpoint, Bucket: "evidence-x", AccessKey: srv.AccessKey, SecretKey: "wrong", CreateBucket: true, Region: "us-east-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := NewS3(context.Background(), tt.cfg); err == nil {
				t.Error("NewS3 succeeded")
			}
		})
	}
}

func TestTransient(t *testing.T) {
	t.Parallel()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"503", context.Background(), minio.ErrorResponse{StatusCode: 503, Code: "ServiceUnavailable"}, true},
		{"500", context.Background(), minio.ErrorResponse{StatusCode: 500}, true},
		{"429", context.Background(), minio.ErrorResponse{StatusCode: 429}, true},
		{"slow down", context.Background(), minio.ErrorResponse{StatusCode: 400, Code: "SlowDown"}, true},
		{"403", context.Background(), minio.ErrorResponse{StatusCode: 403, Code: "AccessDenied"}, false},
		{"412", context.Background(), minio.ErrorResponse{StatusCode: 412, Code: "PreconditionFailed"}, false},
		{"network", context.Background(), &url.Error{Op: "Put", URL: "http://x", Err: errors.New("connection reset by peer")}, true},
		{"cancelled", cancelled, &url.Error{Op: "Put", URL: "http://x", Err: context.Canceled}, false},
		{"exists", context.Background(), wildwatch.ErrObjectExists, false},
	}
	for _, tt := range tests {
		if got := transient(tt.ctx, tt.err); got != tt.want {
			t.Errorf("%s: transient = %v, want %v", tt.name, got, tt.want)
		}
	}
}
