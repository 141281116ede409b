package api

import (
	"context"
	"net/http"
	"net/url"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// CaptureFullView is everything about one capture in one answer: its
// record, listing and verdict (CaptureView), each text field with the
// matches in it (offsets into the field's original text), whether its
// evidence verifies and, for investigators and admins, the HTTP exchange
// its WARC records and its manifest.
type CaptureFullView struct {
	CaptureView
	Fields []FieldMatches `json:"fields"`
	// Verification is the outcome of checking the capture's evidence:
	// manifest signature, then every object's size and SHA-256.
	Verification *storage.VerifyResult `json:"verification,omitempty"`
	// Exchange and Manifest are read from the evidence; left out for
	// monitors.
	Exchange *storage.WARCExchange `json:"exchange,omitempty"`
	Manifest *storage.Manifest     `json:"manifest,omitempty"`
	// EvidenceErrors say what could not be read or checked.
	EvidenceErrors []string `json:"evidence_errors,omitempty"`
}

// FieldMatches is one text field of a listing and the matches in it.
type FieldMatches struct {
	Name    string            `json:"name"`
	Value   string            `json:"value"`
	Matches []wildwatch.Match `json:"matches"`
}

// fieldMatches groups a verdict's matches by the listing's text fields, in
// field order; a match in a field the listing does not have is kept under
// its own name with an empty value.
func fieldMatches(l wildwatch.Listing, v wildwatch.Verdict) []FieldMatches {
	var out []FieldMatches
	seen := map[string]bool{}
	for _, f := range l.TextFields() {
		fm := FieldMatches{Name: f.Name, Value: f.Value, Matches: []wildwatch.Match{}}
		for _, m := range v.Matches {
			if m.Field == f.Name {
				fm.Matches = append(fm.Matches, m)
			}
		}
		seen[f.Name] = true
		out = append(out, fm)
	}
	for _, m := range v.Matches {
		if !seen[m.Field] {
			seen[m.Field] = true
			fm := FieldMatches{Name: m.Field, Matches: []wildwatch.Match{}}
			for _, m2 := range v.Matches {
				if m2.Field == m.Field {
					fm.Matches = append(fm.Matches, m2)
				}
			}
			out = append(out, fm)
		}
	}
	return out
}

// captureView answers GET /api/v1/captures/{id}/view.
func (s *Server) captureView(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	rec, err := s.cfg.Catalog.GetCapture(ctx, r.PathValue("id"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	v := CaptureFullView{
		CaptureView: CaptureView{CaptureDetail: captureDetail(rec), Listing: rec.Listing, Verdict: rec.Verdict},
		Fields:      fieldMatches(rec.Listing, rec.Verdict),
	}
	problem := func(what string, err error) { v.EvidenceErrors = append(v.EvidenceErrors, what+": "+err.Error()) }
	// Every read of the evidence is in the custody log before it happens:
	// the verification reads every object; investigators also get the
	// WARC's HTTP exchange and the manifest.
	investigator := roleRank[principalFrom(ctx).Role] >= roleRank[RoleInvestigator]
	reads := [][2]string{{storage.ActionVerify, rec.ManifestKey}}
	if investigator {
		reads = append(reads, [2]string{storage.ActionReadWARC, rec.WARCKey}, [2]string{storage.ActionReadManifest, rec.ManifestKey})
	}
	for _, rd := range reads {
		if _, err := s.RecordAccess(r, rd[0], rd[1], "capture view"); err != nil {
			s.custodyFailed(w, r, err)
			return
		}
	}
	if pub, err := storage.ParsePublicKey([]byte(s.cfg.PublicKey)); err != nil {
		problem("public key", err)
	} else if res, err := storage.VerifyCapture(ctx, s.cfg.Evidence, rec.ManifestKey, pub); err != nil {
		problem("verifying", err)
	} else {
		v.Verification = &res
	}
	if investigator {
		if x, err := storage.ReadCaptureExchange(ctx, s.cfg.Evidence, rec.WARCKey); err != nil {
			problem("reading the WARC", err)
		} else {
			v.Exchange = x
		}
		if m, err := storage.ReadCaptureManifest(ctx, s.cfg.Evidence, rec.ManifestKey); err != nil {
			problem("reading the manifest", err)
		} else {
			v.Manifest = m
		}
	}
	if ctx.Err() != nil {
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// CaptureFull returns a capture with its fields and matches, whether its
// evidence verifies and, for investigators, its HTTP exchange and manifest.
func (c *Client) CaptureFull(ctx context.Context, id string) (CaptureFullView, error) {
	var v CaptureFullView
	return v, c.do(ctx, http.MethodGet, "/api/v1/captures/"+url.PathEscape(id)+"/view", nil, "", &v)
}
