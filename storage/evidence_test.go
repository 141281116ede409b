package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wildwatch/wildwatch"
)

// evidenceStores are the stores the evidence tests run on.
var evidenceStores = []struct {
	name string
	new  func(t *testing.T) wildwatch.EvidenceStore
}{
	{"dir", func(t *testing.T) wildwatch.EvidenceStore {
		d, err := NewDir(filepath.Join(t.TempDir(), "evidence"))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}},
	{"s3", func(t *testing.T) wildwatch.EvidenceStore { return newTestS3(t, nil) }},
}

func testSigner(t testing.TB) *Signer {
	t.Helper()
	s, err := NewSigner(rfc8032Key(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var warcKeyPattern = regexp.MustCompile(`^captures/sweep-1/c1/[0-9a-f]{16}\.warc\.gz$`)

func TestRecord(t *testing.T) {
	t.Parallel()
	for _, st := range evidenceStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			store := st.new(t)
			ev := &Evidence{Store: store, Signer: testSigner(t), Logger: testLogger(t)}
			ctx := context.Background()
			c := testCapture("c1", []byte("<html>ivory</html>"))
			m, err := ev.Record(ctx, testWARCParams(c))
			if err != nil {
				t.Fatal(err)
			}

			if m.CaptureID != "c1" || m.SweepID != "sweep-1" || m.URL != c.URL || m.FinalURL != c.FinalURL ||
				m.RemoteIP != c.RemoteIP || m.Status != 200 || m.UserAgent != c.UserAgent ||
				m.Software != "wildwatch" || m.SoftwareVersion != "1.2.3" || m.RuleSet != "default@3" ||
				!m.FetchedAt.Equal(c.FetchedAt) || m.FetchedAt.Location().String() != "UTC" || !m.StartedAt.Equal(c.StartedAt) {
				t.Errorf("manifest = %+v", m)
			}
			if len(m.Objects) != 1 {
				t.Fatalf("manifest objects = %+v, want one WARC", m.Objects)
			}
			o := m.Objects[0]
			if !warcKeyPattern.MatchString(o.Key) || o.Role != RoleWARC || o.ContentType != ContentTypeWARC {
				t.Errorf("WARC object = %+v", o)
			}
			if !strings.HasPrefix(o.SHA256, strings.TrimSuffix(filepath.Base(o.Key), ".warc.gz")) {
				t.Errorf("WARC key %s is not named for its SHA-256 %s", o.Key, o.SHA256)
			}

			// The stored WARC is what the manifest says and holds the body.
			rc, info, err := store.Get(ctx, o.Key)
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(data)
			if hex.EncodeToString(sum[:]) != o.SHA256 || int64(len(data)) != o.Size || info.Size != o.Size {
				t.Errorf("stored WARC: %d bytes, sha256 %x; manifest %+v", len(data), sum, o)
			}
			recs, err := readWARC(t, data)
			if err != nil || len(recs) != 4 || !bytes.Equal(recs[2].payload, c.Body) {
				t.Errorf("stored WARC does not read back with the body: %v", err)
			}

			stored, err := readManifest(ctx, store, ManifestKey("sweep-1", "c1"))
			if err != nil {
				t.Fatal(err)
			}
			if err := stored.Verify(ev.Signer.PublicKey()); err != nil {
				t.Errorf("stored manifest: %v", err)
			}
			if stored.Signature.Value != m.Signature.Value {
				t.Error("stored manifest differs from the returned one")
			}
			res, err := VerifyCapture(ctx, store, ManifestKey("sweep-1", "c1"), ev.Signer.PublicKey())
			if err != nil || !res.OK || res.CaptureID != "c1" {
				t.Errorf("VerifyCapture = %+v, %v", res, err)
			}

			// Idempotent: a second Record writes nothing and returns the
			// stored manifest.
			before, err := store.List(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			again, err := ev.Record(ctx, testWARCParams(c))
			if err != nil {
				t.Fatal(err)
			}
			if again.Signature.Value != m.Signature.Value || again.Objects[0] != o {
				t.Errorf("second Record returned another manifest: %+v", again)
			}
			after, err := store.List(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) || len(after) != 2 {
				t.Errorf("objects before the second Record %d, after %d; want 2", len(before), len(after))
			}
		})
	}
}

// TestRecordConcurrent records one capture from several goroutines: all get
// the one stored manifest.
func TestRecordConcurrent(t *testing.T) {
	t.Parallel()
	for _, st := range evidenceStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			store := st.new(t)
			ev := &Evidence{Store: store, Signer: testSigner(t)}
			const n = 6
			ms := make([]*Manifest, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					ms[i], errs[i] = ev.Record(context.Background(), testWARCParams(testCapture("c1", []byte("body"))))
				})
			}
			wg.Wait()
			stored, err := readManifest(context.Background(), store, ManifestKey("sweep-1", "c1"))
			if err != nil {
				t.Fatal(err)
			}
			for i := range n {
				if errs[i] != nil {
					t.Errorf("Record %d: %v", i, errs[i])
					continue
				}
				if ms[i].Signature.Value != stored.Signature.Value {
					t.Errorf("Record %d returned a manifest that is not the stored one", i)
				}
			}
			res, err := VerifyCapture(context.Background(), store, ManifestKey("sweep-1", "c1"), ev.Signer.PublicKey())
			if err != nil || !res.OK {
				t.Errorf("VerifyCapture = %+v, %v", res, err)
			}
		})
	}
}

// failingStore fails Puts of keys with a suffix while fail is set, like a
// worker that dies between writing the WARC and the manifest.
type failingStore struct {
	wildwatch.EvidenceStore
	suffix string
	fail   atomic.Bool
}

var errInjected = errors.New("injected failure")

func (s *failingStore) Put(ctx context.Context, key string, r io.Reader, size int64, contentType string) (wildwatch.ObjectInfo, error) {
	if s.fail.Load() && strings.HasSuffix(key, s.suffix) {
		return wildwatch.ObjectInfo{}, errInjected
	}
	return s.EvidenceStore.Put(ctx, key, r, size, contentType)
}

func TestRecordAfterCrash(t *testing.T) {
	t.Parallel()
	dir, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &failingStore{EvidenceStore: dir, suffix: manifestSuffix}
	store.fail.Store(true)
	ev := &Evidence{Store: store, Signer: testSigner(t)}
	ctx := context.Background()
	p := testWARCParams(testCapture("c1", []byte("body")))
	if _, err := ev.Record(ctx, p); !errors.Is(err, errInjected) {
		t.Fatalf("Record = %v, want the injected failure", err)
	}
	orphans, err := dir.List(ctx, "captures/sweep-1/c1/")
	if err != nil || len(orphans) != 1 {
		t.Fatalf("after the failed Record: %+v, %v; want one WARC", orphans, err)
	}

	store.fail.Store(false)
	m, err := ev.Record(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if m.Objects[0].Key == orphans[0].Key {
		t.Error("the retry reused the orphaned WARC's key")
	}
	objs, err := dir.List(ctx, "captures/sweep-1/c1/")
	if err != nil || len(objs) != 2 {
		t.Errorf("WARCs after the retry: %+v, %v; want the orphan and the new one", objs, err)
	}
	res, err := VerifyCapture(ctx, dir, ManifestKey("sweep-1", "c1"), ev.Signer.PublicKey())
	if err != nil || !res.OK {
		t.Errorf("VerifyCapture = %+v, %v", res, err)
	}
}

func TestRecordErrors(t *testing.T) {
	t.Parallel()
	dir, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	signer := testSigner(t)
	tests := []struct {
		name string
		ev   *Evidence
		p    WARCParams
	}{
		{"no store", &Evidence{Signer: signer}, testWARCParams(testCapture("c1", nil))},
		{"no signer", &Evidence{Store: dir}, testWARCParams(testCapture("c1", nil))},
		{"no capture", &Evidence{Store: dir, Signer: signer}, WARCParams{}},
		{"slash in id", &Evidence{Store: dir, Signer: signer}, testWARCParams(testCapture("c/1", nil))},
		{"no status", &Evidence{Store: dir, Signer: signer}, func() WARCParams {
			p := testWARCParams(testCapture("c1", nil))
			p.Capture.Status = 0
			return p
		}()},
	}
	for _, tt := range tests {
		if _, err := tt.ev.Record(context.Background(), tt.p); err == nil {
			t.Errorf("%s: Record succeeded", tt.name)
		}
	}
	if objs, err := dir.List(context.Background(), ""); err != nil || len(objs) != 0 {
		t.Errorf("failed Records left %+v, %v", objs, err)
	}
}

// TestRecordRendered records a rendered capture: the WARC keeps the
// server's body, and the screenshot and DOM are objects of their own in the
// manifest, which verifies.
func TestRecordRendered(t *testing.T) {
	t.Parallel()
	for _, st := range evidenceStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			store := st.new(t)
			ev := &Evidence{Store: store, Signer: testSigner(t), Logger: testLogger(t)}
			ctx := t.Context()
			c := testRendered(testCapture("c1", []byte("<html><div id=app></div></html>")))
			m, err := ev.Record(ctx, testWARCParams(c))
			if err != nil {
				t.Fatal(err)
			}
			if m.ManifestVersion != ManifestVersion || m.Mode != wildwatch.RenderBrowser || m.Mode != c.Mode || m.ModeReason != c.ModeReason {
				t.Errorf("manifest version %d, mode %q (%q); want %d, %q (%q)", m.ManifestVersion, m.Mode, m.ModeReason, ManifestVersion, c.Mode, c.ModeReason)
			}

			want := []struct {
				role, ext, contentType string
				data                   []byte
			}{
				{RoleWARC, ".warc.gz", ContentTypeWARC, nil},
				{RoleScreenshot, ".png", "image/png", c.Rendered.Screenshot},
				{RoleDOM, ".html", "text/html; charset=utf-8", c.Rendered.DOM},
			}
			if len(m.Objects) != len(want) {
				t.Fatalf("manifest objects = %+v, want %d", m.Objects, len(want))
			}
			for i, w := range want {
				o := m.Objects[i]
				data := readObject(t, store, o.Key)
				sum := sha256.Sum256(data)
				digest := hex.EncodeToString(sum[:])
				if o.Role != w.role || o.ContentType != w.contentType || o.Key != "captures/sweep-1/c1/"+digest[:16]+w.ext ||
					o.SHA256 != digest || o.Size != int64(len(data)) {
					t.Errorf("object %d = %+v; stored %d bytes, sha256 %s; want role %s, type %s", i, o, len(data), digest, w.role, w.contentType)
				}
				if w.data != nil && !bytes.Equal(data, w.data) {
					t.Errorf("%s object holds %q, want %q", w.role, data, w.data)
				}
				info, err := store.Stat(ctx, o.Key)
				if err != nil || info.ContentType != w.contentType {
					t.Errorf("Stat(%s) = %+v, %v; want content type %s", o.Key, info, err, w.contentType)
				}
			}

			var rec CaptureRecord
			rec.SetEvidence(m)
			if rec.ManifestKey != ManifestKey("sweep-1", "c1") || rec.WARCKey != m.Objects[0].Key || rec.WARCSHA256 != m.Objects[0].SHA256 ||
				rec.ScreenshotKey != m.Objects[1].Key || rec.DOMKey != m.Objects[2].Key {
				t.Errorf("SetEvidence gave %+v from %+v", rec, m.Objects)
			}

			// The WARC holds the server's body in the response and the
			// rendering in resource records.
			recs, err := readWARC(t, readObject(t, store, m.Objects[0].Key))
			if err != nil {
				t.Fatal(err)
			}
			checkWARC(t, c, testWARCParams(c), recs, "999", "", false)

			res, err := VerifyCapture(ctx, store, ManifestKey("sweep-1", "c1"), ev.Signer.PublicKey())
			if err != nil || !res.OK {
				t.Errorf("VerifyCapture = %+v, %v", res, err)
			}

			// Idempotent: nothing is written again.
			before, err := store.List(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			again, err := ev.Record(ctx, testWARCParams(testRendered(testCapture("c1", []byte("other")))))
			if err != nil {
				t.Fatal(err)
			}
			if again.Signature.Value != m.Signature.Value {
				t.Errorf("second Record returned another manifest: %+v", again)
			}
			after, err := store.List(ctx, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(after) != len(before) || len(after) != 4 {
				t.Errorf("objects before the second Record %d, after %d; want 4", len(before), len(after))
			}
		})
	}
}

// TestRecordRenderedAfterCrash retries a rendered capture whose first
// Record stored its objects but not its manifest: the screenshot and DOM
// are found under the same keys and reused.
func TestRecordRenderedAfterCrash(t *testing.T) {
	t.Parallel()
	dir, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	store := &failingStore{EvidenceStore: dir, suffix: manifestSuffix}
	store.fail.Store(true)
	ev := &Evidence{Store: store, Signer: testSigner(t)}
	ctx := t.Context()
	p := testWARCParams(testRendered(testCapture("c1", []byte("body"))))
	if _, err := ev.Record(ctx, p); !errors.Is(err, errInjected) {
		t.Fatalf("Record = %v, want the injected failure", err)
	}
	store.fail.Store(false)
	m, err := ev.Record(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := dir.List(ctx, "captures/sweep-1/c1/")
	if err != nil || len(objs) != 4 {
		t.Errorf("objects after the retry: %+v, %v; want two WARCs, the screenshot and the DOM", objs, err)
	}
	if len(m.Objects) != 3 {
		t.Errorf("manifest objects %+v, want 3", m.Objects)
	}
	res, err := VerifyCapture(ctx, dir, ManifestKey("sweep-1", "c1"), ev.Signer.PublicKey())
	if err != nil || !res.OK {
		t.Errorf("VerifyCapture = %+v, %v", res, err)
	}
}

// TestRecordStaticMode records a static capture that says how it was
// fetched: no screenshot or DOM objects, the mode in the manifest.
func TestRecordStaticMode(t *testing.T) {
	t.Parallel()
	dir, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ev := &Evidence{Store: dir, Signer: testSigner(t)}
	c := testCapture("c1", []byte("<html>ivory</html>"))
	c.Mode, c.ModeReason = wildwatch.RenderStatic, "target is static"
	m, err := ev.Record(t.Context(), testWARCParams(c))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Objects) != 1 || m.Objects[0].Role != RoleWARC || m.Mode != wildwatch.RenderStatic || m.ModeReason != "target is static" {
		t.Errorf("manifest = %+v", m)
	}
	stored := readObject(t, dir, ManifestKey("sweep-1", "c1"))
	if !bytes.Contains(stored, []byte(`"mode":"static","mode_reason":"target is static"`)) {
		t.Errorf("stored manifest lacks the mode:\n%s", stored)
	}
}

// readObject returns the bytes stored under key.
func readObject(t *testing.T, store wildwatch.EvidenceStore, key string) []byte {
	t.Helper()
	rc, _, err := store.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
