package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// logBuffer keeps what a logger writes, for tests that check a warning
// was logged, and passes it on to t.Log.
type logBuffer struct {
	t  testing.TB
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.b.Write(p)
	l.mu.Unlock()
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogBuffer(t testing.TB) (*logBuffer, *slog.Logger) {
	l := &logBuffer{t: t}
	return l, slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newTestTimestamper(t testing.TB, url string) *TSA {
	t.Helper()
	tsa, err := NewTSA(TSAConfig{URL: url, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return tsa
}

func TestRecordTimestamp(t *testing.T) {
	t.Parallel()
	for _, st := range evidenceStores {
		t.Run(st.name, func(t *testing.T) {
			t.Parallel()
			store := st.new(t)
			tsa := newTestTSA(t, tsaOK)
			ev := &Evidence{Store: store, Signer: testSigner(t), Timestamper: newTestTimestamper(t, tsa.URL), Logger: testLogger(t)}
			ctx := context.Background()
			before := time.Now()
			m, err := ev.Record(ctx, testWARCParams(testRendered(testCapture("c1", []byte("<html>pangolin scales</html>")))))
			if err != nil {
				t.Fatal(err)
			}
			after := time.Now()
			if got := tsa.requestCount(); got != 1 {
				t.Errorf("%d requests to the TSA, want 1", got)
			}

			key := TimestampKey(m.SweepID, m.CaptureID)
			if key != "captures/sweep-1/c1.manifest.tsr" {
				t.Errorf("TimestampKey = %q", key)
			}
			info, err := store.Stat(ctx, key)
			if err != nil {
				t.Fatalf("no timestamp stored beside the manifest: %v", err)
			}
			if st.name == "dir" && info.ContentType != ContentTypeTimestamp {
				t.Errorf("timestamp content type %q, want %q", info.ContentType, ContentTypeTimestamp)
			}
			// The stored answer covers the stored manifest's bytes.
			ts, err := VerifyTimestamp(readObject(t, store, key), sha256.Sum256(readObject(t, store, ManifestKey(m.SweepID, m.CaptureID))))
			if err != nil {
				t.Fatal(err)
			}
			// The TSA writes milliseconds; its time lies within the request.
			if ts.Time.Before(before.Add(-time.Second)) || ts.Time.After(after.Add(time.Second)) {
				t.Errorf("timestamp time %v, want between %v and %v", ts.Time, before, after)
			}

			res, err := VerifyCapture(ctx, store, ManifestKey(m.SweepID, m.CaptureID), ev.Signer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK || res.TimestampStatus != TimestampVerified || res.Timestamp == nil {
				t.Fatalf("VerifyCapture = %+v, want OK with a verified timestamp", res)
			}
			if !res.Timestamp.Time.Equal(ts.Time) || res.Timestamp.Accuracy != time.Second ||
				!strings.Contains(res.Timestamp.Authority, "CN=wildwatch test TSA") || res.Timestamp.Policy != "1.3.6.1.4.1.99999.1" {
				t.Errorf("timestamp = %+v", res.Timestamp)
			}
			certSum := sha256.Sum256(tsa.cert.Raw)
			if res.Timestamp.CertificateSHA256 != hex.EncodeToString(certSum[:]) {
				t.Errorf("certificate SHA-256 %s, want %x", res.Timestamp.CertificateSHA256, certSum)
			}

			// Recording again finds the manifest and asks the TSA nothing.
			if _, err := ev.Record(ctx, testWARCParams(testRendered(testCapture("c1", []byte("<html>pangolin scales</html>"))))); err != nil {
				t.Fatal(err)
			}
			if got := tsa.requestCount(); got != 1 {
				t.Errorf("%d requests to the TSA after recording again, want 1", got)
			}
		})
	}
}

// TestRecordTimestampFails: whatever goes wrong with the TSA, the capture
// is recorded, a warning is logged, no answer is stored and verification
// says "no timestamp".
func TestRecordTimestampFails(t *testing.T) {
	t.Parallel()
	closed := newTestTSA(t, tsaOK)
	closed.Close()
	tests := []struct {
		name  string
		url   string
		fault tsaFault
		want  string // in the logged error
	}{
		{"unreachable", closed.URL, tsaOK, "connect"},
		{"http error", "", tsaHTTPError, "503"},
		{"rejection", "", tsaRejection, "unaccepted policy"},
		{"wrong imprint", "", tsaWrongImprint, "message imprint"},
		{"bad signature", "", tsaBadSignature, "signature does not verify"},
		{"no nonce", "", tsaNoNonce, "nonce"},
		{"no certificate", "", tsaNoCertificate, "no certificate"},
		{"other certificate", "", tsaOtherCertificate, "signature does not verify"},
		{"not for time stamping", "", tsaNotForTimestamping, "not for time stamping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := tt.url
			if url == "" {
				url = newTestTSA(t, tt.fault).URL
			}
			store := evidenceStores[0].new(t)
			logs, logger := newLogBuffer(t)
			ev := &Evidence{Store: store, Signer: testSigner(t), Timestamper: newTestTimestamper(t, url), Logger: logger}
			ctx := context.Background()
			m, err := ev.Record(ctx, testWARCParams(testCapture("c1", []byte("<html>rhino horn</html>"))))
			if err != nil {
				t.Fatalf("Record = %v, want the capture recorded without a timestamp", err)
			}
			if _, err := store.Stat(ctx, TimestampKey(m.SweepID, m.CaptureID)); !errors.Is(err, wildwatch.ErrObjectNotFound) {
				t.Errorf("Stat of the timestamp = %v, want ErrObjectNotFound", err)
			}
			if out := logs.String(); !strings.Contains(out, "level=WARN") || !strings.Contains(out, "manifest not timestamped") || !strings.Contains(out, tt.want) {
				t.Errorf("log does not warn of the failure with %q:\n%s", tt.want, out)
			}
			res, err := VerifyCapture(ctx, store, ManifestKey(m.SweepID, m.CaptureID), ev.Signer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK || res.TimestampStatus != TimestampNone || res.Timestamp != nil {
				t.Errorf("VerifyCapture = %+v, want OK and %q", res, TimestampNone)
			}
		})
	}
}

// TestVerifyCaptureTimestampTampered: an answer that does not belong to
// the manifest beside it fails verification.
func TestVerifyCaptureTimestampTampered(t *testing.T) {
	t.Parallel()
	store := evidenceStores[0].new(t)
	tsa := newTestTSA(t, tsaOK)
	ev := &Evidence{Store: store, Signer: testSigner(t), Timestamper: newTestTimestamper(t, tsa.URL), Logger: testLogger(t)}
	ctx := context.Background()
	var ms []*Manifest
	for _, id := range []string{"c1", "c2"} {
		m, err := ev.Record(ctx, testWARCParams(testCapture(id, []byte("<html>"+id+" tiger</html>"))))
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	d := store.(*Dir)
	c1 := d.path(TimestampKey("sweep-1", "c1"))
	c2 := d.path(TimestampKey("sweep-1", "c2"))

	check := func(name, wantProblem string) {
		t.Helper()
		res, err := VerifyCapture(ctx, store, ManifestKey("sweep-1", "c1"), ev.Signer.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		if res.OK || res.TimestampStatus != TimestampInvalid || res.Timestamp != nil {
			t.Errorf("%s: VerifyCapture = %+v, want not OK with an invalid timestamp", name, res)
		}
		if !strings.Contains(strings.Join(res.Problems, "\n"), wantProblem) {
			t.Errorf("%s: problems %q, want one about %q", name, res.Problems, wantProblem)
		}
	}

	// c2's answer beside c1's manifest.
	c1Answer := readFile(t, c1)
	writeFile(t, c1, readFile(t, c2))
	check("another manifest's timestamp", "is not the manifest's SHA-256")

	// One byte of the signed TSTInfo changed: the signed digest no longer
	// matches. The serial number sits in the TSTInfo, after the imprint.
	tampered := bytes.Clone(c1Answer)
	i := bytes.Index(tampered, ms[0].manifestDigest(t, store))
	if i < 0 {
		t.Fatal("imprint not found in the answer")
	}
	tampered[i+sha256.Size+2] ^= 0x01
	writeFile(t, c1, tampered)
	check("changed token", "message digest")

	writeFile(t, c1, []byte("not DER"))
	check("garbage", "not a TimeStampResp")

	writeFile(t, c1, c1Answer)
	res, err := VerifyCapture(ctx, store, ManifestKey("sweep-1", "c1"), ev.Signer.PublicKey())
	if err != nil || !res.OK || res.TimestampStatus != TimestampVerified {
		t.Errorf("with the answer put back, VerifyCapture = %+v, %v", res, err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile replaces the read-only evidence file at path.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	makeWritable(t, path)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// manifestDigest returns the SHA-256 of m's stored bytes.
func (m *Manifest) manifestDigest(t *testing.T, store wildwatch.EvidenceStore) []byte {
	t.Helper()
	sum := sha256.Sum256(readObject(t, store, ManifestKey(m.SweepID, m.CaptureID)))
	return sum[:]
}

func TestVerifyTimestampFaults(t *testing.T) {
	t.Parallel()
	digest := sha256.Sum256([]byte("manifest"))
	tests := []struct {
		fault tsaFault
		want  string
	}{
		{tsaOK, ""},
		{tsaRejection, "refused"},
		{tsaWrongImprint, "message imprint"},
		{tsaBadSignature, "signature does not verify"},
		{tsaNoCertificate, "no certificate"},
		{tsaOtherCertificate, "signature does not verify"},
		{tsaNotForTimestamping, "not for time stamping"},
	}
	for _, tt := range tests {
		a := newTestTSA(t, tt.fault)
		req, err := marshalTimestampRequest(digest, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := a.answer(req, 42, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ts, err := VerifyTimestamp(resp, digest)
		if tt.want == "" {
			if err != nil || ts.Serial != "42" {
				t.Errorf("fault %d: VerifyTimestamp = %+v, %v", tt.fault, ts, err)
			}
			continue
		}
		if !errors.Is(err, ErrBadTimestamp) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("fault %d: VerifyTimestamp = %v, want ErrBadTimestamp about %q", tt.fault, err, tt.want)
		}
	}
	// A request without certReq gets a token without the certificate,
	// which cannot be verified on its own.
	a := newTestTSA(t, tsaOK)
	noCertReq, err := asn1.Marshal(timeStampReq{
		Version:        1,
		MessageImprint: messageImprint{HashAlgorithm: sha256AlgorithmWithNull, HashedMessage: digest[:]},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.answer(noCertReq, 1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyTimestamp(resp, digest); err == nil {
		t.Error("a token without its certificate verified")
	}
}

func TestNewTSA(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "tsa.example", "ftp://tsa.example/", "http://", "://x"} {
		if _, err := NewTSA(TSAConfig{URL: u}); err == nil {
			t.Errorf("NewTSA(%q) succeeded", u)
		}
	}
	if _, err := NewTSA(TSAConfig{URL: "https://tsa.example/tsr"}); err != nil {
		t.Error(err)
	}
}

func TestParseGeneralizedTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"20260314092653Z", time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC), true},
		{"20260314092653.5Z", time.Date(2026, 3, 14, 9, 26, 53, 500e6, time.UTC), true},
		{"20260314092653.123456Z", time.Date(2026, 3, 14, 9, 26, 53, 123456e3, time.UTC), true},
		{"20260314092653", time.Time{}, false},
		{"20260314092653+0100", time.Time{}, false},
		{"2026031409Z", time.Time{}, false},
		{"20261314092653Z", time.Time{}, false},
	}
	for _, tt := range tests {
		got, err := parseGeneralizedTime(tt.in)
		if (err == nil) != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseGeneralizedTime(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
