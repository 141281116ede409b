package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

func (s *Server) listTargets(w http.ResponseWriter, r *http.Request) {
	ts, err := s.cfg.Catalog.ListTargets(r.Context())
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ts)
}

func (s *Server) getTarget(w http.ResponseWriter, r *http.Request) {
	t, src, err := s.cfg.Catalog.GetTarget(r.Context(), r.PathValue("name"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "yaml") {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(src)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

// applyTarget stores the YAML target in the body, creating or replacing it.
func (s *Server) applyTarget(w http.ResponseWriter, r *http.Request) {
	src, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	name := r.URL.Query().Get("file")
	if name == "" {
		name = "target.yaml"
	}
	t, err := crawler.ParseTarget(name, src)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := s.cfg.Catalog.PutTarget(r.Context(), t, src); err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (s *Server) startSweep(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Target string `json:"target"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Target == "" {
		writeError(w, http.StatusBadRequest, "target is required")
		return
	}
	sw, err := s.cfg.Sweeps.StartSweep(r.Context(), req.Target)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, sw)
}

func (s *Server) listSweeps(w http.ResponseWriter, r *http.Request) {
	limit, err := intParam(r, "limit")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	sws, err := s.cfg.Catalog.ListSweeps(r.Context(), storage.SweepFilter{Target: r.URL.Query().Get("target"), Limit: limit})
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sws)
}

// SweepDetail is a sweep with the errors recorded on it.
type SweepDetail struct {
	wildwatch.Sweep
	Errors []wildwatch.SweepError `json:"errors"`
}

func (s *Server) getSweep(w http.ResponseWriter, r *http.Request) {
	sw, err := s.cfg.Catalog.GetSweep(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	errs, err := s.cfg.Catalog.SweepErrors(r.Context(), sw.ID)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, SweepDetail{Sweep: sw, Errors: errs})
}

func (s *Server) listFlags(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := storage.FlagFilter{Target: q.Get("target"), Category: q.Get("category"), Status: q.Get("status"), SweepID: q.Get("sweep")}
	var err error
	if f.Since, err = timeParam(r, "since"); err == nil {
		if f.Until, err = timeParam(r, "until"); err == nil {
			if f.Limit, err = intParam(r, "limit"); err == nil {
				f.Offset, err = intParam(r, "offset")
			}
		}
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	flags, err := s.cfg.Catalog.ListFlags(r.Context(), f)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, flags)
}

// FlagDetail is a flag with the capture that raised it.
type FlagDetail struct {
	wildwatch.Flag
	Capture CaptureDetail `json:"capture"`
}

// CaptureDetail is a capture's catalog record as the API shows it.
type CaptureDetail struct {
	wildwatch.Capture
	ManifestKey   string `json:"manifest_key"`
	WARCKey       string `json:"warc_key"`
	WARCSHA256    string `json:"warc_sha256"`
	ScreenshotKey string `json:"screenshot_key,omitempty"`
	DOMKey        string `json:"dom_key,omitempty"`
	// Change is how the capture compares with the listing's capture before
	// it; RefersTo, for an unchanged capture recorded as a revisit, the
	// capture whose WARC holds the response in full.
	Change        string `json:"change,omitempty"`
	RefersTo      string `json:"refers_to,omitempty"`
	PayloadDigest string `json:"payload_digest,omitempty"`
}

func captureDetail(rec storage.CaptureRecord) CaptureDetail {
	return CaptureDetail{Capture: rec.Capture, ManifestKey: rec.ManifestKey, WARCKey: rec.WARCKey, WARCSHA256: rec.WARCSHA256,
		ScreenshotKey: rec.ScreenshotKey, DOMKey: rec.DOMKey, Change: rec.Change, RefersTo: rec.RefersTo, PayloadDigest: rec.PayloadDigest}
}

func (s *Server) getFlag(w http.ResponseWriter, r *http.Request) {
	f, err := s.cfg.Catalog.GetFlag(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	rec, err := s.cfg.Catalog.GetCapture(r.Context(), f.CaptureID)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, FlagDetail{Flag: f, Capture: captureDetail(rec)})
}

func (s *Server) review(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Decision string `json:"decision"`
		Note     string `json:"note"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if !wildwatch.ValidDecision(req.Decision) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("decision must be %q, %q or %q", wildwatch.FlagConfirmed, wildwatch.FlagDismissed, wildwatch.FlagReview))
		return
	}
	p := principalFrom(r.Context())
	f, err := s.cfg.Catalog.AddReview(r.Context(), wildwatch.Review{
		FlagID: r.PathValue("id"), Decision: req.Decision, Note: req.Note, Reviewer: p.Name, At: time.Now().UTC(),
	})
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, f)
}

// CaptureView is a capture with its listing and verdict.
type CaptureView struct {
	CaptureDetail
	Listing wildwatch.Listing `json:"listing"`
	Verdict wildwatch.Verdict `json:"verdict"`
}

func (s *Server) getCapture(w http.ResponseWriter, r *http.Request) {
	rec, err := s.cfg.Catalog.GetCapture(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, CaptureView{CaptureDetail: captureDetail(rec), Listing: rec.Listing, Verdict: rec.Verdict})
}

func (s *Server) captureWARC(w http.ResponseWriter, r *http.Request) {
	rec, err := s.cfg.Catalog.GetCapture(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	s.sendObject(w, r, rec.WARCKey, rec.Capture.ID+".warc.gz")
}

func (s *Server) captureManifest(w http.ResponseWriter, r *http.Request) {
	rec, err := s.cfg.Catalog.GetCapture(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	s.sendObject(w, r, rec.ManifestKey, rec.Capture.ID+".manifest.json")
}

func (s *Server) captureScreenshot(w http.ResponseWriter, r *http.Request) {
	s.sendRendered(w, r, func(rec storage.CaptureRecord) (string, string) { return rec.ScreenshotKey, ".png" })
}

func (s *Server) captureDOM(w http.ResponseWriter, r *http.Request) {
	s.sendRendered(w, r, func(rec storage.CaptureRecord) (string, string) { return rec.DOMKey, ".html" })
}

// sendRendered sends an object that only rendered captures have.
func (s *Server) sendRendered(w http.ResponseWriter, r *http.Request, pick func(storage.CaptureRecord) (key, ext string)) {
	rec, err := s.cfg.Catalog.GetCapture(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	key, ext := pick(rec)
	if key == "" {
		writeError(w, http.StatusNotFound, "capture "+rec.Capture.ID+" was fetched statically: it has no screenshot or rendered DOM")
		return
	}
	s.sendObject(w, r, key, rec.Capture.ID+ext)
}

// Extraction is what static and rendered extraction found on a listing
// page, side by side.
type Extraction struct {
	CaptureID  string             `json:"capture_id"`
	Mode       string             `json:"mode"`
	ModeReason string             `json:"mode_reason,omitempty"`
	Static     *wildwatch.Listing `json:"static"`
	Rendered   *wildwatch.Listing `json:"rendered"`
}

func (s *Server) captureExtraction(w http.ResponseWriter, r *http.Request) {
	rec, err := s.cfg.Catalog.GetCapture(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	x := Extraction{CaptureID: rec.Capture.ID, Mode: rec.Capture.Mode, ModeReason: rec.Capture.ModeReason}
	l := rec.Listing
	if rec.Capture.Mode == wildwatch.RenderBrowser {
		x.Rendered, x.Static = &l, rec.StaticListing
	} else {
		x.Static = &l
	}
	writeJSON(w, http.StatusOK, x)
}

// sendObject streams an evidence object as stored, byte for byte.
func (s *Server) sendObject(w http.ResponseWriter, r *http.Request, key, filename string) {
	rc, info, err := s.cfg.Evidence.Get(r.Context(), key)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	defer rc.Close()
	ct := info.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.FormatInt(info.Size, 10))
	w.Header().Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	w.Header().Set("X-Evidence-Key", key)
	if _, err := io.Copy(w, rc); err != nil {
		s.cfg.Logger.WarnContext(r.Context(), "sending evidence", "key", key, "err", err)
	}
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "request body: "+err.Error())
		return false
	}
	return true
}

func intParam(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: want a non-negative whole number, got %q", name, v)
	}
	return n, nil
}

func timeParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: want an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", name, v)
	}
	return t, nil
}
