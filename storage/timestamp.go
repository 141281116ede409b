package storage

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch"
)

// Timestamper obtains RFC 3161 timestamps. Evidence uses one, when it has
// one, to have each new manifest timestamped by a time-stamping authority
// (TSA): the TSA's signed token attests that the manifest existed at the
// time it states, independently of the deployment's own key and clock.
type Timestamper interface {
	// Timestamp returns a TSA's answer (a DER TimeStampResp, RFC 3161 §2.4.2)
	// whose token covers the SHA-256 digest given. Implementations check
	// the answer with VerifyTimestamp before returning it.
	Timestamp(ctx context.Context, digest [sha256.Size]byte) ([]byte, error)
}

// ContentTypeTimestamp is the content type of a stored RFC 3161 answer.
const ContentTypeTimestamp = "application/timestamp-reply"

const timestampSuffix = ".manifest.tsr"

// TimestampKey is the key of the RFC 3161 answer kept beside a capture's
// manifest: "captures/<sweep>/<capture>.manifest.tsr". It is the TSA's
// TimeStampResp as received, the form `openssl ts -verify -in` reads.
func TimestampKey(sweepID, captureID string) string {
	return "captures/" + sweepID + "/" + captureID + timestampSuffix
}

// timestampKeyFor is the key of the answer beside the manifest at mkey.
func timestampKeyFor(mkey string) string {
	return strings.TrimSuffix(mkey, manifestSuffix) + timestampSuffix
}

// TSAConfig configures a TSA client. The zero value of each optional field
// means its default.
type TSAConfig struct {
	// URL is the TSA's HTTP(S) endpoint, which takes a DER TimeStampReq
	// in a POST (RFC 3161 §3.4).
	URL string
	// Timeout bounds one request; default 15s.
	Timeout time.Duration
	// HTTPClient sends the requests; default a client with Timeout.
	HTTPClient *http.Client
}

const (
	defaultTSATimeout = 15 * time.Second
	// maxTimestampBytes bounds a TSA's answer, and a stored one when read.
	maxTimestampBytes = 1 << 20
)

// TSA is a Timestamper that asks an RFC 3161 time-stamping authority over
// HTTP. Each request carries a random nonce and asks for the TSA's
// certificate in the token, so that the token can be verified on its own.
type TSA struct {
	cfg TSAConfig
}

var _ Timestamper = (*TSA)(nil)

// NewTSA returns a client for the TSA at cfg.URL.
func NewTSA(cfg TSAConfig) (*TSA, error) {
	cfg.Timeout = cmp.Or(cfg.Timeout, defaultTSATimeout)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: cfg.Timeout}
	}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("timestamp authority: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("timestamp authority %q: want an http:// or https:// URL", cfg.URL)
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("timestamp authority: negative timeout %v", cfg.Timeout)
	}
	return &TSA{cfg: cfg}, nil
}

// URL returns the TSA's endpoint.
func (t *TSA) URL() string { return t.cfg.URL }

// Timestamp implements Timestamper: it sends a TimeStampReq for digest and
// returns the answer once VerifyTimestamp accepts it for digest and its
// token carries the request's nonce.
func (t *TSA) Timestamp(ctx context.Context, digest [sha256.Size]byte) ([]byte, error) {
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, fmt.Errorf("timestamp request: %w", err)
	}
	body, err := marshalTimestampRequest(digest, nonce)
	if err != nil {
		return nil, fmt.Errorf("timestamp request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, t.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("timestamp request: %w", err)
	}
	req.Header.Set("Content-Type", "application/timestamp-query")
	req.Header.Set("Accept", ContentTypeTimestamp)
	resp, err := t.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("timestamp request: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTimestampBytes+1))
	if err != nil {
		return nil, fmt.Errorf("timestamp request: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("timestamp request: %s answered %s", t.cfg.URL, resp.Status)
	}
	if len(data) > maxTimestampBytes {
		return nil, fmt.Errorf("timestamp request: answer larger than %d bytes", maxTimestampBytes)
	}
	tok, err := parseTimestampResponse(data)
	if err != nil {
		return nil, fmt.Errorf("timestamp request: %w", err)
	}
	if tok.info.Nonce == nil || tok.info.Nonce.Cmp(nonce) != 0 {
		return nil, errors.New("timestamp request: the token does not carry the request's nonce")
	}
	if _, err := tok.verify(digest); err != nil {
		return nil, fmt.Errorf("timestamp request: %w", err)
	}
	return data, nil
}

// timestampManifest has the manifest bytes data, just stored under mkey,
// timestamped by e.Timestamper and keeps the answer beside it. A failure is
// logged, never returned: the capture is recorded already, and stays so
// without a timestamp (verification then says "no timestamp").
func (e *Evidence) timestampManifest(ctx context.Context, log *slog.Logger, mkey string, data []byte) {
	if e.Timestamper == nil {
		return
	}
	resp, err := e.Timestamper.Timestamp(ctx, sha256.Sum256(data))
	if err != nil {
		log.Warn("manifest not timestamped; the capture is recorded without a timestamp", "manifest", mkey, "err", err)
		return
	}
	key := timestampKeyFor(mkey)
	if _, err := e.Store.Put(ctx, key, bytes.NewReader(resp), int64(len(resp)), ContentTypeTimestamp); err != nil {
		log.Warn("storing the manifest's timestamp failed; the capture is recorded without one", "key", key, "err", err)
		return
	}
	log.Debug("manifest timestamped", "key", key)
}

// Timestamp statuses in VerifyResult.TimestampStatus.
const (
	TimestampVerified = "verified"
	TimestampNone     = "no timestamp"
	TimestampInvalid  = "invalid"
)

// verifyManifestTimestamp checks the RFC 3161 answer stored beside the
// manifest at mkey, if any, against the manifest's bytes data, and records
// the outcome in res. An answer that does not verify is a problem; a
// missing one is not (timestamps are optional), only TimestampNone.
func verifyManifestTimestamp(ctx context.Context, store wildwatch.EvidenceStore, mkey string, data []byte, res *VerifyResult) error {
	key := timestampKeyFor(mkey)
	rc, _, err := store.Get(ctx, key)
	if errors.Is(err, wildwatch.ErrObjectNotFound) {
		res.TimestampStatus = TimestampNone
		return nil
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	resp, err := io.ReadAll(io.LimitReader(rc, maxTimestampBytes+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", key, err)
	}
	if len(resp) > maxTimestampBytes {
		res.TimestampStatus = TimestampInvalid
		res.problem("timestamp %s: larger than %d bytes", key, maxTimestampBytes)
		return nil
	}
	ts, err := VerifyTimestamp(resp, sha256.Sum256(data))
	if err != nil {
		res.TimestampStatus = TimestampInvalid
		res.problem("timestamp %s: %v", key, err)
		return nil
	}
	res.TimestampStatus = TimestampVerified
	res.Timestamp = ts
	return nil
}
