package storage

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// These tests hold the RFC 3161 code to OpenSSL, an implementation written
// apart from it: OpenSSL verifies the answers stored by Record, and answers
// made by OpenSSL's own TSA (`openssl ts -reply`) pass VerifyTimestamp and
// the TSA client.

// opensslBinary returns the openssl command, failing the test when it is
// missing (Debian's openssl package; it is part of the base system).
func opensslBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl not found on PATH (%v): the timestamp tests check against it; install Debian's openssl package", err)
	}
	return p
}

func writeTestFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTimestampVerifiedByOpenSSL: `openssl ts -verify` accepts the answer
// Record stores for the manifest beside it, and refuses it for another.
func TestTimestampVerifiedByOpenSSL(t *testing.T) {
	t.Parallel()
	openssl := opensslBinary(t)
	root := t.TempDir()
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	tsa := newTestTSA(t, tsaOK)
	ev := &Evidence{Store: d, Signer: testSigner(t), Timestamper: newTestTimestamper(t, tsa.URL), Logger: testLogger(t)}
	for _, id := range []string{"c1", "c2"} {
		if _, err := ev.Record(context.Background(), testWARCParams(testCapture(id, []byte("<html>"+id+" hornbill casque</html>")))); err != nil {
			t.Fatal(err)
		}
	}
	caFile := writeTestFile(t, filepath.Join(t.TempDir(), "tsa.pem"), tsa.certPEM())
	verify := func(manifestID string) (string, error) {
		out, err := exec.Command(openssl, "ts", "-verify",
			"-data", d.path(ManifestKey("sweep-1", manifestID)),
			"-in", d.path(TimestampKey("sweep-1", "c1")),
			"-CAfile", caFile).CombinedOutput()
		return string(out), err
	}
	if out, err := verify("c1"); err != nil || !strings.Contains(out, "Verification: OK") {
		t.Errorf("openssl ts -verify of c1's timestamp: %v\n%s", err, out)
	}
	if out, err := verify("c2"); err == nil || strings.Contains(out, "Verification: OK") {
		t.Errorf("openssl ts -verify accepted c1's timestamp for c2's manifest:\n%s", out)
	}
}

// opensslTSA is a TSA served by `openssl ts -reply`, one process per
// request, with an RSA key.
type opensslTSA struct {
	*httptest.Server
	cert *x509.Certificate
}

func newOpenSSLTSA(t *testing.T, key *rsa.PrivateKey, signerDigest, essCertIDAlg string) *opensslTSA {
	t.Helper()
	openssl := opensslBinary(t)
	dir := t.TempDir()
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(99),
		Subject:         pkix.Name{CommonName: "openssl test TSA"},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().Add(24 * time.Hour),
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, filepath.Join(dir, "tsa.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeTestFile(t, filepath.Join(dir, "tsa.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	writeTestFile(t, filepath.Join(dir, "serial"), []byte("01\n"))
	config := writeTestFile(t, filepath.Join(dir, "tsa.cnf"), fmt.Appendf(nil, `[ tsa ]
default_tsa = tsa_config1

[ tsa_config1 ]
dir = %s
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa.pem
signer_key = $dir/tsa.key
signer_digest = %s
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500, microsecs:100
clock_precision_digits = 3
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = %s
`, dir, signerDigest, essCertIDAlg))

	var mu sync.Mutex // the serial file is shared
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		query := filepath.Join(dir, "query.tsq")
		reply := filepath.Join(dir, "reply.tsr")
		if err := os.WriteFile(query, body, 0o600); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out, err := exec.Command(openssl, "ts", "-reply", "-config", config, "-queryfile", query, "-out", reply).CombinedOutput()
		if err != nil {
			http.Error(w, fmt.Sprintf("openssl ts -reply: %v: %s", err, out), http.StatusInternalServerError)
			return
		}
		resp, err := os.ReadFile(reply)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return &opensslTSA{Server: srv, cert: cert}
}

func TestTimestampFromOpenSSLAuthority(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ signerDigest, essCertIDAlg string }{
		{"sha256", "sha1"},   // SigningCertificate (ESS v1)
		{"sha512", "sha256"}, // SigningCertificateV2
	}
	for _, tt := range tests {
		t.Run(tt.signerDigest+"-ess-"+tt.essCertIDAlg, func(t *testing.T) {
			t.Parallel()
			authority := newOpenSSLTSA(t, key, tt.signerDigest, tt.essCertIDAlg)
			client := newTestTimestamper(t, authority.URL)
			digest := sha256.Sum256([]byte("a manifest"))
			before := time.Now()
			resp, err := client.Timestamp(context.Background(), digest)
			if err != nil {
				t.Fatal(err)
			}
			after := time.Now()
			ts, err := VerifyTimestamp(resp, digest)
			if err != nil {
				t.Fatal(err)
			}
			if ts.Time.Before(before.Add(-2*time.Second)) || ts.Time.After(after.Add(2*time.Second)) {
				t.Errorf("time %v, want between %v and %v", ts.Time, before, after)
			}
			certSum := sha256.Sum256(authority.cert.Raw)
			if ts.Accuracy != 1500100*time.Microsecond || ts.Policy != "1.2.3.4.1" || ts.Serial == "" ||
				ts.Authority != "CN=openssl test TSA" || ts.CertificateSHA256 != fmt.Sprintf("%x", certSum) {
				t.Errorf("timestamp = %+v", ts)
			}
			other := sha256.Sum256([]byte("another manifest"))
			if _, err := VerifyTimestamp(resp, other); err == nil {
				t.Error("the answer verified for another digest")
			}

			// The whole path: Record asks OpenSSL's TSA, VerifyCapture
			// checks what it stored.
			store := evidenceStores[0].new(t)
			ev := &Evidence{Store: store, Signer: testSigner(t), Timestamper: client, Logger: testLogger(t)}
			m, err := ev.Record(context.Background(), testWARCParams(testCapture("c1", []byte("<html>tiger bone</html>"))))
			if err != nil {
				t.Fatal(err)
			}
			res, err := VerifyCapture(context.Background(), store, ManifestKey(m.SweepID, m.CaptureID), ev.Signer.PublicKey())
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK || res.TimestampStatus != TimestampVerified || res.Timestamp.Authority != "CN=openssl test TSA" {
				t.Errorf("VerifyCapture = %+v", res)
			}
		})
	}
}
