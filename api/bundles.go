package api

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// BundleRequest is the body of POST /api/v1/bundles: a sweep's captures
// (only the flagged ones with FlaggedOnly) or the captures of the flags
// named, a title and description for the case, and whether to print the
// report to PDF too.
type BundleRequest struct {
	Sweep       string   `json:"sweep,omitempty"`
	FlaggedOnly bool     `json:"flagged_only,omitempty"`
	Flags       []string `json:"flags,omitempty"`
	Title       string   `json:"title,omitempty"`
	Description string   `json:"description,omitempty"`
	PDF         bool     `json:"pdf,omitempty"`
}

// BundleCreated describes a case bundle the server made and stored.
type BundleCreated struct {
	ID string `json:"id"`
	// Key is the bundle's evidence key, bundles/<id>.wacz.
	Key string `json:"key"`
	// SHA256 (hex) and Bytes are those of the whole bundle.
	SHA256   string `json:"sha256"`
	Bytes    int64  `json:"bytes"`
	Captures int    `json:"captures"`
	// KeyID is the fingerprint of the key that signed it.
	KeyID string `json:"key_id"`
}

// bundleKey is where the evidence store keeps a bundle.
func bundleKey(id string) string { return "bundles/" + id + ".wacz" }

var bundleIDPattern = regexp.MustCompile(`^[a-z2-7]{16}$`)

// newBundleID returns 16 random lower-case base32 characters.
func newBundleID() string {
	var b [10]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
}

// createBundle builds a case bundle of the captures the request selects,
// stores it with storeBundle and describes it.
func (s *Server) createBundle(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Signer == nil {
		writeError(w, http.StatusServiceUnavailable, "this server has no signing key for case bundles")
		return
	}
	var req BundleRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.PDF && s.cfg.PDF == nil {
		writeError(w, http.StatusNotImplemented, "this server cannot print reports to PDF")
		return
	}
	items, err := s.cfg.Catalog.BundleItems(r.Context(), storage.BundleSelection{
		SweepID: req.Sweep, FlaggedOnly: req.FlaggedOnly, FlagIDs: req.Flags,
	})
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if len(items) == 0 {
		writeError(w, http.StatusNotFound, "the selection holds no captures")
		return
	}
	p := storage.BundleParams{Items: items, Title: req.Title, Description: req.Description}
	if req.PDF {
		p.PDF = s.cfg.PDF
	}
	id, info, err := s.storeBundle(r.Context(), p)
	if badEvidence(err) {
		s.cfg.Logger.ErrorContext(r.Context(), "evidence fails its manifest; no bundle made", "err", err)
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	key := bundleKey(id)
	p0 := principalFrom(r.Context())
	s.cfg.Logger.InfoContext(r.Context(), "case bundle made", "bundle", id, "captures", info.Captures, "bytes", info.Bytes,
		"sha256", info.SHA256, "by", p0.Name)
	writeJSON(w, http.StatusCreated, BundleCreated{
		ID: id, Key: key, SHA256: info.SHA256, Bytes: info.Bytes, Captures: info.Captures, KeyID: info.KeyID,
	})
}

// storeBundle writes the case bundle p describes (its Store and Signer
// are the server's) and stores it under bundles/<id>.wacz. The bundle is
// written to a temporary file first, so its size is known when it is
// stored and no bundle is held in memory. An error for which badEvidence
// holds means the evidence fails its manifest and nothing was stored.
func (s *Server) storeBundle(ctx context.Context, p storage.BundleParams) (id string, info storage.BundleInfo, err error) {
	tmp, err := os.CreateTemp("", "wildwatch-bundle-*.wacz")
	if err != nil {
		return "", storage.BundleInfo{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	p.Store, p.Signer = s.cfg.Evidence, s.cfg.Signer
	info, err = storage.WriteBundle(ctx, tmp, p)
	if err != nil {
		return "", storage.BundleInfo{}, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", storage.BundleInfo{}, err
	}
	id = newBundleID()
	key := bundleKey(id)
	if _, err := s.cfg.Evidence.Put(ctx, key, tmp, info.Bytes, storage.ContentTypeBundle); err != nil {
		return "", storage.BundleInfo{}, fmt.Errorf("storing bundle %s: %w", key, err)
	}
	return id, info, nil
}

// badEvidence reports whether err from storeBundle says the evidence
// fails its manifest (it changed, or its signature does not verify).
func badEvidence(err error) bool {
	return errors.Is(err, storage.ErrEvidenceChanged) || errors.Is(err, storage.ErrBadSignature)
}

// getBundle sends a stored bundle byte for byte, with its length and, for
// stores whose objects can seek, answers to range requests, as WACZ
// readers use them.
func (s *Server) getBundle(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !bundleIDPattern.MatchString(id) {
		writeError(w, http.StatusNotFound, "no bundle "+strconv.Quote(id))
		return
	}
	key := bundleKey(id)
	rc, info, err := s.cfg.Evidence.Get(r.Context(), key)
	if errors.Is(err, wildwatch.ErrObjectNotFound) {
		writeError(w, http.StatusNotFound, "no bundle "+id)
		return
	}
	if err != nil {
		s.internal(w, r, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	h.Set("Content-Type", storage.ContentTypeBundle)
	h.Set("Content-Disposition", `attachment; filename="`+id+`.wacz"`)
	h.Set(evidenceKeyHeader, key)
	if rs, ok := rc.(io.ReadSeeker); ok {
		http.ServeContent(w, r, id+".wacz", info.Modified, rs)
		return
	}
	h.Set("Content-Length", strconv.FormatInt(info.Size, 10))
	if _, err := io.Copy(w, rc); err != nil {
		s.cfg.Logger.WarnContext(r.Context(), "sending bundle", "key", key, "err", err)
	}
}
