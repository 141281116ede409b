package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// Cases: sets of flags an investigator gathers, exports as a signed case
// bundle, and shares by a time-limited link. Each bundle made from a case
// is recorded in the custody log (action bundle-create, object the
// bundle's key, detail "case <id>: …"), which is also where the case page
// finds its earlier exports.

// actionBundleCreate is the custody action of a case bundle made from the
// console.
const actionBundleCreate = "bundle-create"

// caseFlagRow is a flag of a case as its page shows it.
type caseFlagRow struct {
	Flag    wildwatch.Flag
	Added   storage.CaseFlag
	Missing bool // the flag is gone from the catalog
}

// caseExport is a bundle made from a case.
type caseExport struct {
	ID    string
	Key   string
	Entry storage.CustodyEntry
}

// caseView is the data of a case's page.
type caseView struct {
	Case    storage.Case
	Flags   []caseFlagRow
	InCase  map[string]bool
	Exports []caseExport
	// Bundle is the bundle just made, shown first.
	Bundle string
	// CanPDF says the server can print reports to PDF; CanExport that it
	// can sign bundles.
	CanPDF, CanExport bool
	// The flag search: by seller, sweep and text.
	Seller, Sweep, Q string
	Searched         bool
	Results          []wildwatch.Flag
}

func newCaseID() string { return newBundleID() }

func (s *Server) investigateCases(w http.ResponseWriter, r *http.Request) {
	cases, err := s.cfg.Catalog.ListCases(r.Context())
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "investigate_cases", map[string]any{"Cases": cases})
}

func (s *Server) investigateCreateCase(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" {
		s.redirectFlash(w, r, "/cases", false, s.tr(r, "investigate.case_name_missing"))
		return
	}
	k := storage.Case{ID: newCaseID(), Name: name, Notes: r.PostFormValue("notes"), CreatedBy: principalFrom(r.Context()).Name}
	if err := s.cfg.Catalog.PutCase(r.Context(), k); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.redirectFlash(w, r, "/cases/"+k.ID, true, s.tr(r, "investigate.case_created", "name", k.Name))
}

func (s *Server) investigateCase(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	k, err := s.cfg.Catalog.GetCase(ctx, r.PathValue("id"))
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	q := r.URL.Query()
	v := caseView{Case: k, InCase: map[string]bool{}, Bundle: q.Get("bundle"), CanPDF: s.cfg.PDF != nil, CanExport: s.cfg.Signer != nil,
		Seller: strings.TrimSpace(q.Get("seller")), Sweep: strings.TrimSpace(q.Get("sweep")), Q: strings.TrimSpace(q.Get("q"))}
	for _, cf := range k.Flags {
		v.InCase[cf.FlagID] = true
		f, err := s.cfg.Catalog.GetFlag(ctx, cf.FlagID)
		if errors.Is(err, storage.ErrNotFound) {
			v.Flags = append(v.Flags, caseFlagRow{Flag: wildwatch.Flag{ID: cf.FlagID}, Added: cf, Missing: true})
			continue
		}
		if err != nil {
			s.consoleError(w, r, err)
			return
		}
		v.Flags = append(v.Flags, caseFlagRow{Flag: f, Added: cf})
	}
	if v.Seller != "" || v.Sweep != "" || v.Q != "" {
		v.Searched = true
		if v.Results, err = s.cfg.Catalog.SearchFlags(ctx, storage.FlagQuery{Seller: v.Seller, SweepID: v.Sweep, Text: v.Q, Limit: 200}); err != nil {
			s.consoleError(w, r, err)
			return
		}
	}
	if v.Exports, err = s.caseExports(r, k.ID); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "investigate_case", v)
}

// caseExports returns the bundles made from case id, newest first, as the
// custody log's last 1000 bundle-create entries record them.
func (s *Server) caseExports(r *http.Request, id string) ([]caseExport, error) {
	es, err := s.cfg.Custody.List(r.Context(), storage.CustodyFilter{Action: actionBundleCreate, Newest: true, Limit: 1000})
	if err != nil {
		return nil, err
	}
	var out []caseExport
	for _, e := range es {
		if !strings.HasPrefix(e.Detail, "case "+id+":") {
			continue
		}
		bid := strings.TrimSuffix(strings.TrimPrefix(e.Object, "bundles/"), ".wacz")
		out = append(out, caseExport{ID: bid, Key: e.Object, Entry: e})
	}
	return out, nil
}

func (s *Server) investigateSaveCase(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	k, err := s.cfg.Catalog.GetCase(ctx, r.PathValue("id"))
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	if name == "" {
		s.redirectFlash(w, r, "/cases/"+k.ID, false, s.tr(r, "investigate.case_name_missing"))
		return
	}
	k.Name, k.Notes = name, r.PostFormValue("notes")
	if err := s.cfg.Catalog.PutCase(ctx, k); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.redirectFlash(w, r, "/cases/"+k.ID, true, s.tr(r, "investigate.case_saved"))
}

// formFlagIDs reads the flag IDs of a form: checked boxes named flag and
// IDs typed into the field ids, separated by spaces, commas or lines.
func formFlagIDs(r *http.Request) []string {
	var ids []string
	seen := map[string]bool{}
	add := func(id string) {
		if id = strings.TrimSpace(id); id != "" && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	_ = r.ParseForm()
	for _, id := range r.PostForm["flag"] {
		add(id)
	}
	for _, id := range strings.FieldsFunc(r.PostFormValue("ids"), func(c rune) bool {
		return c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == ';'
	}) {
		add(id)
	}
	return ids
}

func (s *Server) investigateAddFlags(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ids := formFlagIDs(r)
	back := "/cases/" + id
	if len(ids) == 0 {
		s.redirectFlash(w, r, back, false, s.tr(r, "investigate.no_flags_given"))
		return
	}
	err := s.cfg.Catalog.AddCaseFlags(r.Context(), id, principalFrom(r.Context()).Name, ids...)
	if errors.Is(err, storage.ErrNotFound) {
		if _, gerr := s.cfg.Catalog.GetCase(r.Context(), id); gerr != nil {
			s.consoleError(w, r, gerr)
			return
		}
		s.redirectFlash(w, r, back, false, s.tr(r, "investigate.flag_unknown", "error", err.Error()))
		return
	}
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.redirectFlash(w, r, back, true, s.tr(r, "investigate.flags_added", "n", len(ids)))
}

func (s *Server) investigateRemoveFlag(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.cfg.Catalog.RemoveCaseFlag(r.Context(), id, r.PostFormValue("flag")); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.redirectFlash(w, r, "/cases/"+id, true, s.tr(r, "investigate.flag_removed", "flag", r.PostFormValue("flag")))
}

func (s *Server) investigateDeleteCase(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	k, err := s.cfg.Catalog.GetCase(ctx, r.PathValue("id"))
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if err := s.cfg.Catalog.DeleteCase(ctx, k.ID); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.redirectFlash(w, r, "/cases", true, s.tr(r, "investigate.case_deleted", "name", k.Name))
}

// investigateAddPage is where the review page sends someone who wants a
// flag in a case: pick a case or start one.
func (s *Server) investigateAddPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := s.cfg.Catalog.GetFlag(ctx, r.URL.Query().Get("flag"))
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	cases, err := s.cfg.Catalog.ListCases(ctx)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "investigate_add", map[string]any{"Flag": f, "Cases": cases})
}

func (s *Server) investigateAddSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ids := formFlagIDs(r)
	if len(ids) == 0 {
		s.consoleFail(w, r, http.StatusBadRequest, s.tr(r, "investigate.no_flags_given"))
		return
	}
	for _, id := range ids {
		if _, err := s.cfg.Catalog.GetFlag(ctx, id); err != nil {
			s.consoleError(w, r, err)
			return
		}
	}
	caseID := r.PostFormValue("case")
	if name := strings.TrimSpace(r.PostFormValue("name")); caseID == "" || caseID == "new" {
		if name == "" {
			s.redirectFlash(w, r, "/cases/add?flag="+url.QueryEscape(ids[0]), false, s.tr(r, "investigate.case_name_missing"))
			return
		}
		k := storage.Case{ID: newCaseID(), Name: name, CreatedBy: principalFrom(ctx).Name}
		if err := s.cfg.Catalog.PutCase(ctx, k); err != nil {
			s.consoleError(w, r, err)
			return
		}
		caseID = k.ID
	}
	if err := s.cfg.Catalog.AddCaseFlags(ctx, caseID, principalFrom(ctx).Name, ids...); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.redirectFlash(w, r, "/cases/"+caseID, true, s.tr(r, "investigate.flags_added", "n", len(ids)))
}

// investigateExport builds the case's bundle from its flags' captures,
// stores it with storeBundle, as the API's POST /api/v1/bundles does, records it in the
// custody log and goes back to the case, which offers the download.
func (s *Server) investigateExport(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	k, err := s.cfg.Catalog.GetCase(ctx, r.PathValue("id"))
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	back := "/cases/" + k.ID
	switch {
	case s.cfg.Signer == nil:
		s.redirectFlash(w, r, back, false, s.tr(r, "investigate.no_signer"))
		return
	case len(k.Flags) == 0:
		s.redirectFlash(w, r, back, false, s.tr(r, "investigate.export_empty"))
		return
	}
	ids := make([]string, len(k.Flags))
	for i, f := range k.Flags {
		ids[i] = f.FlagID
	}
	items, err := s.cfg.Catalog.BundleItems(ctx, storage.BundleSelection{FlagIDs: ids})
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	p := storage.BundleParams{Items: items, Title: k.Name, Description: k.Notes}
	if r.PostFormValue("pdf") != "" && s.cfg.PDF != nil {
		p.PDF = s.cfg.PDF
	}
	id, info, err := s.storeBundle(ctx, p)
	if badEvidence(err) {
		s.cfg.Logger.ErrorContext(ctx, "evidence fails its manifest; no bundle made", "case", k.ID, "err", err)
		s.redirectFlash(w, r, back, false, s.tr(r, "investigate.export_evidence_bad", "error", err.Error()))
		return
	}
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	key := bundleKey(id)
	detail := fmt.Sprintf("case %s: %d captures, %d bytes, sha256 %s, flags %s", k.ID, info.Captures, info.Bytes, info.SHA256, strings.Join(ids, ", "))
	if _, err := s.RecordAccess(r, actionBundleCreate, key, detail); err != nil {
		s.cfg.Logger.ErrorContext(ctx, "custody log append failed for a new bundle", "bundle", id, "err", err)
		s.consoleFail(w, r, http.StatusServiceUnavailable, s.tr(r, "investigate.custody_failed"))
		return
	}
	s.cfg.Logger.InfoContext(ctx, "case bundle made", "bundle", id, "case", k.ID, "captures", info.Captures, "bytes", info.Bytes,
		"sha256", info.SHA256, "by", principalFrom(ctx).Name)
	s.redirectFlash(w, r, back+"?bundle="+id+"#exports", true, s.tr(r, "investigate.exported", "n", info.Captures, "size", humanBytes(info.Bytes)))
}

// linkLifetimes are the expiries the console offers for share links.
var linkLifetimes = map[string]time.Duration{"1h": time.Hour, "24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

// investigateShareLink makes a time-limited link to a bundle, as POST
// /api/v1/links does, and shows it once, with a button that copies it.
func (s *Server) investigateShareLink(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !bundleIDPattern.MatchString(id) {
		s.consoleFail(w, r, http.StatusNotFound, s.tr(r, "error.not_found"))
		return
	}
	lifetime, ok := linkLifetimes[r.PostFormValue("expires")]
	if !ok {
		s.consoleFail(w, r, http.StatusBadRequest, s.tr(r, "investigate.bad_expiry"))
		return
	}
	link, err := s.shareLink(r, bundleKey(id), lifetime)
	if errors.Is(err, errNoLinkKey) {
		s.consoleFail(w, r, http.StatusNotImplemented, s.tr(r, "investigate.no_links"))
		return
	}
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	back := localPath(r.PostFormValue("back"))
	s.render(w, r, http.StatusOK, "investigate_link", map[string]any{"Link": link, "Bundle": id, "Back": back})
}
