package storage

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// testTSA is an RFC 3161 time-stamping authority for tests: an httptest
// server that answers TimeStampReqs with tokens signed by a self-signed
// ECDSA certificate made for the test. Its tokens follow RFC 3161 and
// RFC 5652 as a real TSA's do (certificate in the token when asked,
// content-type, message-digest and ESS signing-certificate-v2 signed
// attributes), so that OpenSSL verifies them too.
type testTSA struct {
	*httptest.Server
	cert      *x509.Certificate
	key       *ecdsa.PrivateKey
	otherCert *x509.Certificate // for tsaOtherCertificate

	mu       sync.Mutex
	requests int
	serial   int64
	fault    tsaFault
}

// tsaFault makes a testTSA answer wrongly.
type tsaFault int

const (
	tsaOK                 tsaFault = iota
	tsaHTTPError                   // 503, no token
	tsaRejection                   // status "rejection" with a failure reason
	tsaWrongImprint                // a token over another digest
	tsaBadSignature                // a signature that does not verify
	tsaNoNonce                     // the token leaves out the request's nonce
	tsaNoCertificate               // the token carries no certificate
	tsaOtherCertificate            // the token carries another certificate of the same name
	tsaNotForTimestamping          // a certificate without the timeStamping key usage
)

// tsaCertificate makes a self-signed certificate for a TSA, with the
// timeStamping extended key usage (critical, as RFC 3161 §2.3 asks) unless
// forTimestamping is false.
func tsaCertificate(key *ecdsa.PrivateKey, serial int64, forTimestamping bool) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "wildwatch test TSA", Organization: []string{"wildwatch tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	if forTimestamping {
		eku, err := asn1.Marshal([]asn1.ObjectIdentifier{{1, 3, 6, 1, 5, 5, 7, 3, 8}})
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: eku}}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func newTestTSA(t testing.TB, fault tsaFault) *testTSA {
	t.Helper()
	a := &testTSA{fault: fault}
	var err error
	if a.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if a.cert, err = tsaCertificate(a.key, 1, fault != tsaNotForTimestamping); err != nil {
		t.Fatal(err)
	}
	// Same issuer and serial, another key: only the signature tells them
	// apart.
	other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if a.otherCert, err = tsaCertificate(other, 1, true); err != nil {
		t.Fatal(err)
	}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

// certPEM is the TSA's certificate in PEM, for openssl -CAfile.
func (a *testTSA) certPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.cert.Raw})
}

func (a *testTSA) requestCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests
}

func (a *testTSA) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.requests++
	a.serial++
	serial := a.serial
	a.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/timestamp-query" {
		http.Error(w, "want a POST of application/timestamp-query", http.StatusBadRequest)
		return
	}
	if a.fault == tsaHTTPError {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := a.answer(body, serial, time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Write(resp)
}

// tsaRequest is RFC 3161's TimeStampReq as the test TSA reads it.
type tsaRequest struct {
	Version        int
	MessageImprint struct {
		HashAlgorithm pkix.AlgorithmIdentifier
		HashedMessage []byte
	}
	ReqPolicy  asn1.ObjectIdentifier `asn1:"optional"`
	Nonce      *big.Int              `asn1:"optional"`
	CertReq    bool                  `asn1:"optional"`
	Extensions asn1.RawValue         `asn1:"optional,tag:0"`
}

// answer builds the TimeStampResp (DER) for the TimeStampReq req.
func (a *testTSA) answer(req []byte, serial int64, now time.Time) ([]byte, error) {
	var q tsaRequest
	if _, err := asn1.Unmarshal(req, &q); err != nil {
		return nil, err
	}
	if a.fault == tsaRejection {
		return asn1.Marshal(timeStampResp{Status: pkiStatusInfo{
			Status:       2,
			StatusString: []string{"unaccepted policy"},
			FailInfo:     asn1.BitString{Bytes: []byte{0x01}, BitLength: 16}, // unacceptedPolicy (15)
		}})
	}
	imprint := messageImprint{HashAlgorithm: q.MessageImprint.HashAlgorithm, HashedMessage: q.MessageImprint.HashedMessage}
	if a.fault == tsaWrongImprint {
		other := sha256.Sum256([]byte("something else"))
		imprint.HashedMessage = other[:]
	}
	info := tstInfo{
		Version:        1,
		Policy:         asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1},
		MessageImprint: imprint,
		SerialNumber:   big.NewInt(serial),
		GenTime:        asn1.RawValue{Tag: asn1.TagGeneralizedTime, Bytes: []byte(now.UTC().Format("20060102150405.999Z"))},
		Accuracy:       tstAccuracy{Seconds: 1},
		Nonce:          q.Nonce,
	}
	if a.fault == tsaNoNonce {
		info.Nonce = nil
	}
	content, err := asn1.Marshal(info)
	if err != nil {
		return nil, err
	}
	cert := a.cert
	if a.fault == tsaOtherCertificate {
		cert = a.otherCert
	}
	token, err := a.sign(content, cert, q.CertReq && a.fault != tsaNoCertificate)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(timeStampResp{Status: pkiStatusInfo{Status: 0}, TimeStampToken: asn1.RawValue{FullBytes: token}})
}

// sign wraps a TSTInfo in a CMS SignedData signed with the TSA's key,
// naming the signer by issuer and serial number of cert and carrying cert
// when withCert.
func (a *testTSA) sign(content []byte, cert *x509.Certificate, withCert bool) ([]byte, error) {
	contentDigest := sha256.Sum256(content)
	certDigest := sha256.Sum256(cert.Raw)
	attr := func(oid asn1.ObjectIdentifier, v any) (attribute, error) {
		der, err := asn1.Marshal(v)
		return attribute{Type: oid, Values: []asn1.RawValue{{FullBytes: der}}}, err
	}
	type essCertIDv2 struct{ CertHash []byte } // hashAlgorithm left at its default, SHA-256
	type signingCertificateV2 struct{ Certs []essCertIDv2 }
	var attrs []attribute
	for _, a := range []struct {
		oid asn1.ObjectIdentifier
		v   any
	}{
		{oidAttrContentType, oidTSTInfo},
		{oidAttrMessageDigest, contentDigest[:]},
		{oidAttrSigningCertV2, signingCertificateV2{Certs: []essCertIDv2{{CertHash: certDigest[:]}}}},
	} {
		at, err := attr(a.oid, a.v)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, at)
	}
	set, err := asn1.MarshalWithParams(attrs, "set")
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(set)
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, sum[:])
	if err != nil {
		return nil, err
	}
	if a.fault == tsaBadSignature {
		other := sha256.Sum256(append(set, 0))
		if sig, err = a.key.Sign(rand.Reader, other[:], crypto.SHA256); err != nil {
			return nil, err
		}
	}
	sid, err := asn1.Marshal(issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: cert.RawIssuer}, Serial: cert.SerialNumber})
	if err != nil {
		return nil, err
	}
	signedAttrs := append([]byte{0xa0}, set[1:]...) // SET OF → [0] IMPLICIT
	sd := signedData{
		Version:          3,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{{Algorithm: oidSHA256}},
		EncapContentInfo: encapContentInfo{EContentType: oidTSTInfo, EContent: content},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                asn1.RawValue{FullBytes: sid},
			DigestAlgorithm:    pkix.AlgorithmIdentifier{Algorithm: oidSHA256},
			SignedAttrs:        asn1.RawValue{FullBytes: signedAttrs},
			SignatureAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256},
			Signature:          sig,
		}},
	}
	if withCert {
		sd.Certificates = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: cert.Raw}
	}
	sdDER, err := asn1.Marshal(sd)
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(contentInfo{
		ContentType: oidSignedData,
		Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sdDER},
	})
}
