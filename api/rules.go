package api

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
)

func (s *Server) rulesRoutes(api *http.ServeMux) {
	api.HandleFunc("GET /api/v1/rules", require(RoleMonitor, s.listRules))
	api.HandleFunc("POST /api/v1/rules", require(RoleAdmin, s.applyRules))
	api.HandleFunc("GET /api/v1/rules/diff", require(RoleMonitor, s.diffRules))
	api.HandleFunc("POST /api/v1/rules/backtest", require(RoleAdmin, s.backtestRules))
	api.HandleFunc("GET /api/v1/rules/stats", require(RoleMonitor, s.ruleStats))
	api.HandleFunc("GET /api/v1/rules/{ref}", require(RoleMonitor, s.showRules))
	api.HandleFunc("POST /api/v1/rules/{ref}/activate", require(RoleAdmin, s.activateRules))
}

// RuleSetInfo is a stored rule set version as the API lists it.
type RuleSetInfo struct {
	Name      string    `json:"name"`
	Version   int       `json:"version"`
	SHA256    string    `json:"sha256"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	Note      string    `json:"note,omitempty"`
}

func ruleSetInfo(v storage.RuleSetVersion) RuleSetInfo {
	return RuleSetInfo{Name: v.Name, Version: v.Version, SHA256: v.SHA256, Active: v.Active, CreatedAt: v.CreatedAt, CreatedBy: v.CreatedBy, Note: v.Note}
}

// ApplyResult is the answer to applying a rule set.
type ApplyResult struct {
	RuleSetInfo
	// Added is false when the source equals the latest stored version.
	Added bool `json:"added"`
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) {
	vs, err := s.cfg.Catalog.ListRuleSets(r.Context(), r.URL.Query().Get("name"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	out := make([]RuleSetInfo, 0, len(vs))
	for _, v := range vs {
		out = append(out, ruleSetInfo(v))
	}
	writeJSON(w, http.StatusOK, out)
}

// applyRules stores the YAML rule set in the body as a new version, after
// checking it parses and compiles; ?activate=true activates it.
func (s *Server) applyRules(w http.ResponseWriter, r *http.Request) {
	src, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4*maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	q := r.URL.Query()
	rs, _, err := parseRules(q.Get("file"), src)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	v, added, err := s.cfg.Catalog.PutRuleSet(r.Context(), rs.Name, src, principalFrom(r.Context()).Name, q.Get("note"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if q.Get("activate") == "true" {
		if err := s.cfg.Catalog.ActivateRuleSet(r.Context(), v.Name, v.Version); err != nil {
			s.storeError(w, r, err)
			return
		}
		v.Active = true
	}
	writeJSON(w, http.StatusOK, ApplyResult{RuleSetInfo: ruleSetInfo(v), Added: added})
}

// parseRules parses and compiles a rule set, so that nothing broken is
// stored.
func parseRules(file string, src []byte) (*rules.RuleSet, *rules.Matcher, error) {
	if file == "" {
		file = "rules.yaml"
	}
	rs, err := rules.Parse(file, src)
	if err != nil {
		return nil, nil, err
	}
	m, err := rules.Compile(rs)
	if err != nil {
		return nil, nil, err
	}
	return rs, m, nil
}

// ruleRef reads "name@version", "name" (the active version of name) or
// "active".
func (s *Server) ruleRef(r *http.Request, ref string) (storage.RuleSetVersion, error) {
	if ref == "active" || ref == "" {
		return s.cfg.Catalog.ActiveRuleSet(r.Context())
	}
	name, ver, ok := strings.Cut(ref, "@")
	if !ok {
		v, err := s.cfg.Catalog.ActiveRuleSet(r.Context())
		if err == nil && v.Name != name {
			err = fmt.Errorf("rule set %q is not active; name a version, %s@N: %w", name, name, storage.ErrNotFound)
		}
		return v, err
	}
	n, err := strconv.Atoi(ver)
	if err != nil || n < 1 {
		return storage.RuleSetVersion{}, fmt.Errorf("rule set %q: version must be a number ≥ 1: %w", ref, storage.ErrInvalid)
	}
	return s.cfg.Catalog.GetRuleSet(r.Context(), name, n)
}

func (s *Server) showRules(w http.ResponseWriter, r *http.Request) {
	v, err := s.ruleRef(r, r.PathValue("ref"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("X-Rule-Set", v.Name+"@"+strconv.Itoa(v.Version))
	_, _ = w.Write(v.Source)
}

func (s *Server) activateRules(w http.ResponseWriter, r *http.Request) {
	v, err := s.ruleRef(r, r.PathValue("ref"))
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	if err := s.cfg.Catalog.ActivateRuleSet(r.Context(), v.Name, v.Version); err != nil {
		s.storeError(w, r, err)
		return
	}
	v.Active = true
	writeJSON(w, http.StatusOK, ruleSetInfo(v))
}

// DiffResult lists what changed between two rule set versions.
type DiffResult struct {
	From    string         `json:"from"`
	To      string         `json:"to"`
	Changes []rules.Change `json:"changes"`
	Text    string         `json:"text"`
}

func (s *Server) diffRules(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var sets [2]*rules.RuleSet
	for i, ref := range []string{q.Get("from"), q.Get("to")} {
		v, err := s.ruleRef(r, ref)
		if err != nil {
			s.storeError(w, r, err)
			return
		}
		if sets[i], err = rules.Parse(fmt.Sprintf("%s@%d", v.Name, v.Version), v.Source); err != nil {
			s.internal(w, r, err)
			return
		}
	}
	changes := rules.Diff(sets[0], sets[1])
	var text bytes.Buffer
	rules.FormatDiff(&text, changes)
	writeJSON(w, http.StatusOK, DiffResult{From: q.Get("from"), To: q.Get("to"), Changes: changes, Text: text.String()})
}

// backtestRules re-scores every stored listing with the candidate rule set
// in the body against the active one and reports what would change, without
// touching any flag.
func (s *Server) backtestRules(w http.ResponseWriter, r *http.Request) {
	src, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 4*maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, err.Error())
		return
	}
	_, candidate, err := parseRules(r.URL.Query().Get("file"), src)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	active, err := s.activeMatcher(r)
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	bt := rules.NewBacktester(active, candidate)
	err = s.cfg.Catalog.EachCaptureListing(r.Context(), func(rec storage.CaptureRecord) error {
		bt.Add(rec.Listing)
		return nil
	})
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, bt.Report())
}

// activeMatcher compiles the active rule set, or the built-in default when
// none is active.
func (s *Server) activeMatcher(r *http.Request) (*rules.Matcher, error) {
	v, err := s.cfg.Catalog.ActiveRuleSet(r.Context())
	if err == nil {
		return rules.CompileVersion(v.Name, v.Version, v.Source)
	}
	return rules.Compile(rules.Default())
}

func (s *Server) ruleStats(w http.ResponseWriter, r *http.Request) {
	since, err := timeParam(r, "since")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	stats, err := s.cfg.Catalog.RuleStats(r.Context(), storage.RuleStatFilter{RuleSet: r.URL.Query().Get("rule_set"), Since: since})
	if err != nil {
		s.storeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, stats)
}
