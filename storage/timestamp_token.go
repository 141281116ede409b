package storage

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"

	_ "crypto/sha512" // SHA-384 and SHA-512 digests in tokens
)

// This file reads RFC 3161 time-stamp answers with encoding/asn1 alone:
// TimeStampResp → TimeStampToken (a CMS SignedData, RFC 5652) → TSTInfo.

var (
	oidSignedData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidAttrContentType      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidAttrMessageDigest    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidAttrSigningCert      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 12}
	oidAttrSigningCertV2    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA1                 = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidRSAEncryption        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAPSS               = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidSHA256WithRSA        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidECPublicKey          = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSAWithSHA256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519              = asn1.ObjectIdentifier{1, 3, 101, 112}
	sha256AlgorithmWithNull = pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}
)

// ErrBadTimestamp reports an RFC 3161 answer that is malformed, refused by
// the TSA, does not cover the digest asked about, or whose signature does
// not verify.
var ErrBadTimestamp = errors.New("bad timestamp")

func badTimestamp(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadTimestamp, fmt.Sprintf(format, args...))
}

// Timestamp is what a verified RFC 3161 token attests.
type Timestamp struct {
	// Time is the TSA's time (genTime) for the token, in UTC.
	Time time.Time `json:"time"`
	// Accuracy is the TSA's stated accuracy of Time; zero when not stated.
	Accuracy time.Duration `json:"accuracy_ns,omitempty"`
	// Serial is the token's serial number (decimal), unique per TSA.
	Serial string `json:"serial"`
	// Policy is the TSA policy the token was issued under (an OID).
	Policy string `json:"policy"`
	// Authority is the subject of the certificate that signed the token.
	Authority string `json:"authority"`
	// CertificateSHA256 is the SHA-256 of that certificate (DER, hex), for
	// checking it against the TSA's published certificate: the token is
	// verified against the certificate it carries, not against a trust
	// store.
	CertificateSHA256 string `json:"certificate_sha256"`
}

type messageImprint struct {
	HashAlgorithm pkix.AlgorithmIdentifier
	HashedMessage []byte
}

// timeStampReq is RFC 3161's TimeStampReq without reqPolicy and extensions.
type timeStampReq struct {
	Version        int
	MessageImprint messageImprint
	Nonce          *big.Int `asn1:"optional"`
	CertReq        bool     `asn1:"optional"`
}

type timeStampResp struct {
	Status         pkiStatusInfo
	TimeStampToken asn1.RawValue `asn1:"optional"`
}

type pkiStatusInfo struct {
	Status       int
	StatusString []string       `asn1:"optional"`
	FailInfo     asn1.BitString `asn1:"optional"`
}

type contentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type signedData struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	EncapContentInfo encapContentInfo
	Certificates     asn1.RawValue `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue `asn1:"optional,tag:1"`
	SignerInfos      []signerInfo  `asn1:"set"`
}

type encapContentInfo struct {
	EContentType asn1.ObjectIdentifier
	EContent     []byte `asn1:"explicit,optional,tag:0"`
}

type signerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type issuerAndSerialNumber struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type attribute struct {
	Type   asn1.ObjectIdentifier
	Values []asn1.RawValue `asn1:"set"`
}

type tstInfo struct {
	Version        int
	Policy         asn1.ObjectIdentifier
	MessageImprint messageImprint
	SerialNumber   *big.Int
	GenTime        asn1.RawValue // GeneralizedTime, possibly with fractional seconds
	Accuracy       tstAccuracy   `asn1:"optional"`
	Ordering       bool          `asn1:"optional"`
	Nonce          *big.Int      `asn1:"optional"`
	TSA            asn1.RawValue `asn1:"optional,tag:0"`
	Extensions     asn1.RawValue `asn1:"optional,tag:1"`
}

type tstAccuracy struct {
	Seconds int `asn1:"optional"`
	Millis  int `asn1:"optional,tag:0"`
	Micros  int `asn1:"optional,tag:1"`
}

// marshalTimestampRequest encodes a version 1 TimeStampReq for a SHA-256
// digest, asking for the TSA's certificate in the token.
func marshalTimestampRequest(digest [sha256.Size]byte, nonce *big.Int) ([]byte, error) {
	return asn1.Marshal(timeStampReq{
		Version:        1,
		MessageImprint: messageImprint{HashAlgorithm: sha256AlgorithmWithNull, HashedMessage: digest[:]},
		Nonce:          nonce,
		CertReq:        true,
	})
}

// timestampToken is a parsed token, not yet verified.
type timestampToken struct {
	signed  signedData
	info    tstInfo
	genTime time.Time
}

// VerifyTimestamp checks an RFC 3161 answer (a DER TimeStampResp) for a
// SHA-256 digest and returns what it attests. It checks that the TSA
// granted the request; that the token's message imprint is SHA-256 and
// equals digest; that the token carries the certificate that signed it,
// valid at the token's time and meant for time stamping; that the signed
// attributes bind the token's content (content type, message digest) and,
// when present, the signing certificate (ESS signing-certificate); and that
// the signature over them verifies with that certificate's key (RSA
// PKCS #1 v1.5 or PSS, ECDSA or Ed25519, with SHA-256, -384 or -512).
//
// It does not check the certificate against a trust store: Timestamp
// names the certificate (Authority, CertificateSHA256) for that.
func VerifyTimestamp(resp []byte, digest [sha256.Size]byte) (*Timestamp, error) {
	tok, err := parseTimestampResponse(resp)
	if err != nil {
		return nil, err
	}
	return tok.verify(digest)
}

// parseTimestampResponse parses a TimeStampResp down to its TSTInfo and
// fails unless the TSA granted the request.
func parseTimestampResponse(der []byte) (*timestampToken, error) {
	var resp timeStampResp
	if err := unmarshalAll(der, &resp); err != nil {
		return nil, badTimestamp("not a TimeStampResp: %v", err)
	}
	// 0 granted, 1 grantedWithMods; anything else is a refusal.
	if resp.Status.Status != 0 && resp.Status.Status != 1 {
		return nil, badTimestamp("the TSA refused the request: status %d %s (failure bits %x)",
			resp.Status.Status, strings.Join(resp.Status.StatusString, "; "), resp.Status.FailInfo.Bytes)
	}
	if len(resp.TimeStampToken.FullBytes) == 0 {
		return nil, badTimestamp("answer has no token")
	}
	var ci contentInfo
	if err := unmarshalAll(resp.TimeStampToken.FullBytes, &ci); err != nil {
		return nil, badTimestamp("token is not a CMS ContentInfo: %v", err)
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, badTimestamp("token content type %v, want SignedData", ci.ContentType)
	}
	tok := &timestampToken{}
	if err := unmarshalAll(ci.Content.Bytes, &tok.signed); err != nil {
		return nil, badTimestamp("token SignedData: %v", err)
	}
	if !tok.signed.EncapContentInfo.EContentType.Equal(oidTSTInfo) {
		return nil, badTimestamp("token content type %v, want TSTInfo", tok.signed.EncapContentInfo.EContentType)
	}
	if err := unmarshalAll(tok.signed.EncapContentInfo.EContent, &tok.info); err != nil {
		return nil, badTimestamp("TSTInfo: %v", err)
	}
	if tok.info.Version != 1 {
		return nil, badTimestamp("TSTInfo version %d, want 1", tok.info.Version)
	}
	gt := tok.info.GenTime
	if gt.Class != asn1.ClassUniversal || gt.Tag != asn1.TagGeneralizedTime {
		return nil, badTimestamp("TSTInfo genTime is not a GeneralizedTime")
	}
	t, err := parseGeneralizedTime(string(gt.Bytes))
	if err != nil {
		return nil, badTimestamp("TSTInfo genTime: %v", err)
	}
	tok.genTime = t
	return tok, nil
}

// verify checks the token against digest and returns what it attests.
func (tok *timestampToken) verify(digest [sha256.Size]byte) (*Timestamp, error) {
	mi := tok.info.MessageImprint
	if !mi.HashAlgorithm.Algorithm.Equal(oidSHA256) {
		return nil, badTimestamp("message imprint algorithm %v, want SHA-256", mi.HashAlgorithm.Algorithm)
	}
	if !bytes.Equal(mi.HashedMessage, digest[:]) {
		return nil, badTimestamp("message imprint %x is not the manifest's SHA-256 %x", mi.HashedMessage, digest[:])
	}
	if len(tok.signed.SignerInfos) != 1 {
		return nil, badTimestamp("%d signers, want 1", len(tok.signed.SignerInfos))
	}
	si := tok.signed.SignerInfos[0]
	certs, err := x509.ParseCertificates(tok.signed.Certificates.Bytes)
	if err != nil {
		return nil, badTimestamp("token certificates: %v", err)
	}
	cert, err := signerCertificate(si.SID, certs)
	if err != nil {
		return nil, err
	}
	if err := checkSignedAttributes(si, tok.signed.EncapContentInfo.EContent, cert); err != nil {
		return nil, err
	}
	if err := checkSignerSignature(si, cert); err != nil {
		return nil, err
	}
	if !slices.Contains(cert.ExtKeyUsage, x509.ExtKeyUsageTimeStamping) {
		return nil, badTimestamp("signing certificate %q is not for time stamping (no timeStamping extended key usage)", cert.Subject)
	}
	if tok.genTime.Before(cert.NotBefore) || tok.genTime.After(cert.NotAfter) {
		return nil, badTimestamp("token time %v is outside its certificate's validity %v – %v", tok.genTime, cert.NotBefore, cert.NotAfter)
	}
	certSum := sha256.Sum256(cert.Raw)
	acc := tok.info.Accuracy
	return &Timestamp{
		Time:              tok.genTime,
		Accuracy:          time.Duration(acc.Seconds)*time.Second + time.Duration(acc.Millis)*time.Millisecond + time.Duration(acc.Micros)*time.Microsecond,
		Serial:            tok.info.SerialNumber.String(),
		Policy:            tok.info.Policy.String(),
		Authority:         cert.Subject.String(),
		CertificateSHA256: hex.EncodeToString(certSum[:]),
	}, nil
}

// signerCertificate finds the certificate the signer identifier names:
// issuer and serial number, or [0] subject key identifier.
func signerCertificate(sid asn1.RawValue, certs []*x509.Certificate) (*x509.Certificate, error) {
	if len(certs) == 0 {
		return nil, badTimestamp("token carries no certificate to verify it with")
	}
	switch {
	case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
		var ias issuerAndSerialNumber
		if err := unmarshalAll(sid.FullBytes, &ias); err != nil {
			return nil, badTimestamp("signer identifier: %v", err)
		}
		for _, c := range certs {
			if c.SerialNumber.Cmp(ias.Serial) == 0 && bytes.Equal(c.RawIssuer, ias.Issuer.FullBytes) {
				return c, nil
			}
		}
	case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0:
		for _, c := range certs {
			if len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, sid.Bytes) {
				return c, nil
			}
		}
	default:
		return nil, badTimestamp("unknown signer identifier")
	}
	return nil, badTimestamp("the token does not carry the certificate that signed it")
}

// checkSignedAttributes checks that the signed attributes name the TSTInfo
// content type, carry the digest of content, and, when an ESS
// signing-certificate attribute is present, that it names cert.
func checkSignedAttributes(si signerInfo, content []byte, cert *x509.Certificate) error {
	if len(si.SignedAttrs.FullBytes) == 0 {
		return badTimestamp("signer has no signed attributes")
	}
	var attrs []attribute
	if _, err := asn1.UnmarshalWithParams(si.SignedAttrs.FullBytes, &attrs, "set,tag:0"); err != nil {
		return badTimestamp("signed attributes: %v", err)
	}
	h, err := digestHash(si.DigestAlgorithm.Algorithm)
	if err != nil {
		return err
	}
	var sawType, sawDigest bool
	for _, a := range attrs {
		if len(a.Values) != 1 {
			continue
		}
		v := a.Values[0].FullBytes
		switch {
		case a.Type.Equal(oidAttrContentType):
			var ct asn1.ObjectIdentifier
			if err := unmarshalAll(v, &ct); err != nil || !ct.Equal(oidTSTInfo) {
				return badTimestamp("signed content type is not TSTInfo")
			}
			sawType = true
		case a.Type.Equal(oidAttrMessageDigest):
			var md []byte
			if err := unmarshalAll(v, &md); err != nil {
				return badTimestamp("message digest attribute: %v", err)
			}
			d := h.New()
			d.Write(content)
			if !bytes.Equal(md, d.Sum(nil)) {
				return badTimestamp("signed message digest does not match the token's content")
			}
			sawDigest = true
		case a.Type.Equal(oidAttrSigningCert), a.Type.Equal(oidAttrSigningCertV2):
			if err := checkESSCertID(v, a.Type.Equal(oidAttrSigningCertV2), cert); err != nil {
				return err
			}
		}
	}
	if !sawType || !sawDigest {
		return badTimestamp("signed attributes lack the content type or message digest")
	}
	return nil
}

// checkESSCertID checks that the first certificate a SigningCertificate
// (v2 when v2) attribute names is cert (RFC 2634 §5.4, RFC 5035).
func checkESSCertID(der []byte, v2 bool, cert *x509.Certificate) error {
	var sc struct {
		Certs    []asn1.RawValue
		Policies asn1.RawValue `asn1:"optional"`
	}
	if err := unmarshalAll(der, &sc); err != nil || len(sc.Certs) == 0 {
		return badTimestamp("signing certificate attribute is malformed")
	}
	elems, err := sequenceElements(sc.Certs[0].FullBytes)
	if err != nil || len(elems) == 0 {
		return badTimestamp("signing certificate attribute is malformed")
	}
	h := crypto.SHA1
	if v2 {
		h = crypto.SHA256 // the default hashAlgorithm
		if elems[0].Tag == asn1.TagSequence {
			var alg pkix.AlgorithmIdentifier
			if err := unmarshalAll(elems[0].FullBytes, &alg); err != nil {
				return badTimestamp("signing certificate attribute: %v", err)
			}
			if h, err = digestHash(alg.Algorithm); err != nil {
				return err
			}
			elems = elems[1:]
		}
	}
	if len(elems) == 0 || elems[0].Tag != asn1.TagOctetString {
		return badTimestamp("signing certificate attribute has no certificate hash")
	}
	var sum []byte
	if h == crypto.SHA1 {
		s := sha1.Sum(cert.Raw)
		sum = s[:]
	} else {
		d := h.New()
		d.Write(cert.Raw)
		sum = d.Sum(nil)
	}
	if !bytes.Equal(elems[0].Bytes, sum) {
		return badTimestamp("signing certificate attribute names another certificate than the one that signed")
	}
	return nil
}

// checkSignerSignature verifies the signer's signature over its signed
// attributes (DER, re-tagged as the SET they are) with cert's key.
func checkSignerSignature(si signerInfo, cert *x509.Certificate) error {
	h, err := digestHash(si.DigestAlgorithm.Algorithm)
	if err != nil {
		return err
	}
	msg := slices.Clone(si.SignedAttrs.FullBytes)
	msg[0] = 0x31 // [0] IMPLICIT SET OF → SET OF
	d := h.New()
	d.Write(msg)
	sum := d.Sum(nil)
	alg := si.SignatureAlgorithm.Algorithm
	bad := func(err error) error {
		return badTimestamp("signature does not verify with the certificate of %q: %v", cert.Subject, err)
	}
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		switch {
		case alg.Equal(oidRSAPSS):
			if err := rsa.VerifyPSS(pub, h, sum, si.Signature, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto}); err != nil {
				return bad(err)
			}
		case alg.Equal(oidRSAEncryption), alg.Equal(rsaSignatureOID(h)):
			if err := rsa.VerifyPKCS1v15(pub, h, sum, si.Signature); err != nil {
				return bad(err)
			}
		default:
			return badTimestamp("signature algorithm %v does not fit an RSA key and %v", alg, h)
		}
	case *ecdsa.PublicKey:
		if !alg.Equal(oidECPublicKey) && !alg.Equal(ecdsaSignatureOID(h)) {
			return badTimestamp("signature algorithm %v does not fit an ECDSA key and %v", alg, h)
		}
		if !ecdsa.VerifyASN1(pub, sum, si.Signature) {
			return bad(errors.New("ECDSA verification failed"))
		}
	case ed25519.PublicKey:
		if !alg.Equal(oidEd25519) {
			return badTimestamp("signature algorithm %v does not fit an Ed25519 key", alg)
		}
		if !ed25519.Verify(pub, msg, si.Signature) {
			return bad(errors.New("Ed25519 verification failed"))
		}
	default:
		return badTimestamp("unsupported key type %T in the signing certificate", cert.PublicKey)
	}
	return nil
}

// digestHash maps a digest algorithm OID to its hash; SHA-1 is refused for
// signatures (and used only for ESS certificate IDs, checkESSCertID).
func digestHash(oid asn1.ObjectIdentifier) (crypto.Hash, error) {
	switch {
	case oid.Equal(oidSHA256):
		return crypto.SHA256, nil
	case oid.Equal(oidSHA384):
		return crypto.SHA384, nil
	case oid.Equal(oidSHA512):
		return crypto.SHA512, nil
	case oid.Equal(oidSHA1):
		return 0, badTimestamp("SHA-1 digests are not accepted")
	}
	return 0, badTimestamp("unsupported digest algorithm %v", oid)
}

func rsaSignatureOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA384:
		return oidSHA384WithRSA
	case crypto.SHA512:
		return oidSHA512WithRSA
	}
	return oidSHA256WithRSA
}

func ecdsaSignatureOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA384:
		return oidECDSAWithSHA384
	case crypto.SHA512:
		return oidECDSAWithSHA512
	}
	return oidECDSAWithSHA256
}

// parseGeneralizedTime reads a DER GeneralizedTime, "YYYYMMDDhhmmss[.f*]Z",
// which TSAs write with fractional seconds (encoding/asn1 refuses those).
func parseGeneralizedTime(s string) (time.Time, error) {
	if !strings.HasSuffix(s, "Z") || len(s) < len("20060102150405Z") {
		return time.Time{}, fmt.Errorf("%q is not a UTC GeneralizedTime", s)
	}
	t, err := time.Parse("20060102150405Z", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: %w", s, err)
	}
	return t.UTC(), nil
}

// unmarshalAll parses der into v and refuses trailing bytes.
func unmarshalAll(der []byte, v any) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("%d bytes after the value", len(rest))
	}
	return nil
}

// sequenceElements returns the elements of the DER SEQUENCE der.
func sequenceElements(der []byte) ([]asn1.RawValue, error) {
	var seq asn1.RawValue
	if err := unmarshalAll(der, &seq); err != nil {
		return nil, err
	}
	if seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence {
		return nil, errors.New("not a SEQUENCE")
	}
	var elems []asn1.RawValue
	for rest := seq.Bytes; len(rest) > 0; {
		var e asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &e); err != nil {
			return nil, err
		}
		elems = append(elems, e)
	}
	return elems, nil
}
