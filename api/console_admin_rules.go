package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
)

// The admins' rule set pages: every set with its versions, a YAML editor
// that saves a new version (never activating it), a backtest of a version
// against the stored listings, activation, a diff between two versions,
// and each rule's precision from review decisions.

func (s *Server) consoleAdminRuleRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /admin/rules", s.page(RoleAdmin, s.adminRules))
	m.HandleFunc("GET /admin/rules/{name}", s.page(RoleAdmin, s.adminRule))
	m.HandleFunc("POST /admin/rules/{name}", s.page(RoleAdmin, s.adminRuleSave))
	m.HandleFunc("GET /admin/rules/{name}/backtest", s.page(RoleAdmin, s.adminRuleBacktest))
	m.HandleFunc("POST /admin/rules/{name}/activate", s.page(RoleAdmin, s.adminRuleActivate))
	m.HandleFunc("GET /admin/rules/{name}/diff", s.page(RoleAdmin, s.adminRuleDiff))
}

// ruleSetRow is one rule set in the list: its versions, newest first.
type ruleSetRow struct {
	Name     string
	Versions []storage.RuleSetVersion
	Active   int // the active version, 0 for none
}

func (s *Server) adminRules(w http.ResponseWriter, r *http.Request) {
	// The "new rule set" form asks for a name and opens its editor.
	if name := strings.TrimSpace(r.URL.Query().Get("new")); name != "" {
		if !ruleSetName.MatchString(name) {
			s.redirectFlash(w, r, "/admin/rules", false, s.tr(r, "admin.rules_bad_name", "name", name))
			return
		}
		http.Redirect(w, r, "/admin/rules/"+url.PathEscape(name), http.StatusSeeOther)
		return
	}
	vs, err := s.cfg.Catalog.ListRuleSets(r.Context(), "")
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	var rows []ruleSetRow
	idx := map[string]int{}
	for _, v := range vs {
		i, ok := idx[v.Name]
		if !ok {
			i = len(rows)
			idx[v.Name] = i
			rows = append(rows, ruleSetRow{Name: v.Name})
		}
		rows[i].Versions = append(rows[i].Versions, v)
		if v.Active {
			rows[i].Active = v.Version
		}
	}
	for i := range rows {
		slices.SortFunc(rows[i].Versions, func(a, b storage.RuleSetVersion) int { return b.Version - a.Version })
	}
	s.render(w, r, http.StatusOK, "admin_rules", map[string]any{"Sets": rows})
}

// ruleEditor is the data of a rule set's page.
type ruleEditor struct {
	Name     string
	Version  storage.RuleSetVersion // the version shown
	Versions []storage.RuleSetVersion
	Active   int
	Source   string
	Problem  *sourceProblem
	Rules    []ruleRow
	Note     string
	New      bool // a set not stored yet
}

// ruleRow is a rule of the version shown with how reviewers judged its
// flags over every version of the set.
type ruleRow struct {
	ID       string
	Category string
	Weight   float64
	Line     int
	Stat     storage.RuleStat
	Reviewed bool
}

// ruleVersions returns the versions of name, newest first, and the active
// one (0 for none); ErrNotFound for a set with none.
func (s *Server) ruleVersions(r *http.Request, name string) ([]storage.RuleSetVersion, int, error) {
	vs, err := s.cfg.Catalog.ListRuleSets(r.Context(), name)
	if err != nil {
		return nil, 0, err
	}
	if len(vs) == 0 {
		return nil, 0, fmt.Errorf("rule set %s: %w", name, storage.ErrNotFound)
	}
	slices.SortFunc(vs, func(a, b storage.RuleSetVersion) int { return b.Version - a.Version })
	active := 0
	for _, v := range vs {
		if v.Active {
			active = v.Version
		}
	}
	return vs, active, nil
}

// versionParam reads a version number from the query, 0 when absent.
func versionParam(r *http.Request, key string) (int, error) {
	v := r.FormValue(key)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%s: want a version number: %w", key, storage.ErrInvalid)
	}
	return n, nil
}

// ruleEditorFor fills the page of version (0: the newest) of name.
func (s *Server) ruleEditorFor(r *http.Request, name string, version int) (ruleEditor, error) {
	vs, active, err := s.ruleVersions(r, name)
	if err != nil {
		return ruleEditor{}, err
	}
	if version == 0 {
		version = vs[0].Version
	}
	v, err := s.cfg.Catalog.GetRuleSet(r.Context(), name, version)
	if err != nil {
		return ruleEditor{}, err
	}
	e := ruleEditor{Name: name, Version: v, Versions: vs, Active: active, Source: string(v.Source)}
	rs, err := rules.Parse(fmt.Sprintf("%s@%d", name, version), v.Source)
	if err != nil {
		e.Problem = newSourceProblem(v.Source, err)
		return e, nil
	}
	stats, err := s.cfg.Catalog.RuleStats(r.Context(), storage.RuleStatFilter{RuleSet: name})
	if err != nil {
		return ruleEditor{}, err
	}
	byRule := map[string]storage.RuleStat{}
	for _, st := range stats {
		if st.Term == "" {
			byRule[st.Rule] = st
		}
	}
	seen := map[string]bool{}
	for _, c := range rs.Categories {
		for _, rl := range c.Rules {
			st := byRule[rl.ID]
			seen[rl.ID] = true
			e.Rules = append(e.Rules, ruleRow{ID: rl.ID, Category: c.Name, Weight: rl.Weight, Line: rl.Line, Stat: st,
				Reviewed: st.Confirmed+st.Dismissed > 0})
		}
	}
	// Rules of earlier versions, and the obfuscation bonus, that took part
	// in flags come after this version's own.
	for _, st := range stats {
		if st.Term == "" && !seen[st.Rule] {
			e.Rules = append(e.Rules, ruleRow{ID: st.Rule, Category: st.Category, Stat: st, Reviewed: st.Confirmed+st.Dismissed > 0})
		}
	}
	return e, nil
}

func (s *Server) adminRule(w http.ResponseWriter, r *http.Request) {
	version, err := versionParam(r, "version")
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	name := r.PathValue("name")
	e, err := s.ruleEditorFor(r, name, version)
	if errors.Is(err, storage.ErrNotFound) && version == 0 && ruleSetName.MatchString(name) {
		// A set not stored yet: start from the active set under the new
		// name; saving stores it as version 1, inactive.
		e, err = s.newRuleSetEditor(r, name)
	}
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "admin_rule", e)
}

// ruleSetName is what a rule set may be called (as in its name: field).
var ruleSetName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// newRuleSetEditor is the editor of a rule set not stored yet, holding the
// active rule set's source with its name line replaced (or the default
// pack's when none is active).
func (s *Server) newRuleSetEditor(r *http.Request, name string) (ruleEditor, error) {
	src := rules.DefaultYAML()
	if v, err := s.cfg.Catalog.ActiveRuleSet(r.Context()); err == nil {
		src = v.Source
	} else if !errors.Is(err, storage.ErrNotFound) {
		return ruleEditor{}, err
	}
	nameLine := regexp.MustCompile(`(?m)^name:.*$`)
	if loc := nameLine.FindIndex(src); loc != nil {
		src = append(append(append([]byte(nil), src[:loc[0]]...), "name: "+name...), src[loc[1]:]...)
	}
	return ruleEditor{Name: name, Source: string(src), New: true}, nil
}

// adminRuleSave parses and compiles the typed rule set and stores it as the
// set's next version, inactive; on an error the editor comes back with
// what was typed and the error at its line.
func (s *Server) adminRuleSave(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	src := normalizeNewlines(r.PostFormValue("source"))
	note := r.PostFormValue("note")
	rs, _, err := parseRules(name+".yaml", []byte(src))
	if err == nil && rs.Name != name {
		err = errors.New(s.tr(r, "admin.rules_renamed", "name", name))
	}
	if err != nil {
		e, eerr := s.ruleEditorFor(r, name, 0)
		if errors.Is(eerr, storage.ErrNotFound) {
			e, eerr = ruleEditor{Name: name}, nil // a set not stored yet
		}
		if eerr != nil {
			s.consoleError(w, r, eerr)
			return
		}
		e.Source, e.Note, e.Problem = src, note, newSourceProblem([]byte(src), err)
		s.render(w, r, http.StatusUnprocessableEntity, "admin_rule", e)
		return
	}
	v, added, err := s.cfg.Catalog.PutRuleSet(ctx, name, []byte(src), principalFrom(ctx).Name, note)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	to := fmt.Sprintf("/admin/rules/%s?version=%d", name, v.Version)
	if !added {
		s.redirectFlash(w, r, to, true, s.tr(r, "admin.rules_unchanged", "version", v.Version))
		return
	}
	s.cfg.Logger.InfoContext(ctx, "rule set version added", "rule_set", name, "version", v.Version, "by", principalFrom(ctx).Name)
	s.redirectFlash(w, r, to, true, s.tr(r, "admin.rules_saved", "version", v.Version))
}

// adminRuleBacktest re-scores every stored listing with a version of the
// set against the active rule set, as POST /api/v1/rules/backtest does,
// and shows what would change before anyone activates it. Nothing is
// stored.
func (s *Server) adminRuleBacktest(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	version, err := versionParam(r, "version")
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	vs, active, err := s.ruleVersions(r, name)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if version == 0 {
		version = vs[0].Version
	}
	v, err := s.cfg.Catalog.GetRuleSet(r.Context(), name, version)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	candidate, err := rules.CompileVersion(name, version, v.Source)
	if err != nil {
		s.consoleFail(w, r, http.StatusUnprocessableEntity, err.Error())
		return
	}
	current, err := s.activeMatcher(r)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	bt := rules.NewBacktester(current, candidate)
	err = s.cfg.Catalog.EachCaptureListing(r.Context(), func(rec storage.CaptureRecord) error {
		bt.Add(rec.Listing)
		return nil
	})
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	rep := bt.Report()
	for _, xs := range [][]rules.BacktestExample{rep.Added, rep.Removed} {
		for i := range xs {
			xs[i].Matches = distinctMatches(xs[i].Matches)
		}
	}
	changed := false
	for _, c := range rep.Categories {
		if c.Added+c.Removed > 0 {
			changed = true
		}
	}
	s.render(w, r, http.StatusOK, "admin_rule_backtest", map[string]any{
		"Name": name, "Version": v, "Active": active, "IsActive": v.Active, "Report": rep, "Changed": changed,
	})
}

func (s *Server) adminRuleActivate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	version, err := versionParam(r, "version")
	if err == nil && version == 0 {
		err = fmt.Errorf("version: required: %w", storage.ErrInvalid)
	}
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if err := s.cfg.Catalog.ActivateRuleSet(ctx, name, version); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.cfg.Logger.InfoContext(ctx, "rule set activated", "rule_set", name, "version", version, "by", principalFrom(ctx).Name)
	s.redirectFlash(w, r, fmt.Sprintf("/admin/rules/%s?version=%d", name, version), true,
		s.tr(r, "admin.rules_activated", "ref", fmt.Sprintf("%s@%d", name, version)))
}

// adminRuleDiff shows what changed between two versions of a set (by
// default the one before the newest and the newest).
func (s *Server) adminRuleDiff(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	vs, _, err := s.ruleVersions(r, name)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	from, err := versionParam(r, "from")
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	to, err := versionParam(r, "to")
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if to == 0 {
		to = vs[0].Version
	}
	if from == 0 {
		from = max(1, to-1)
	}
	var sets [2]*rules.RuleSet
	for i, n := range []int{from, to} {
		v, err := s.cfg.Catalog.GetRuleSet(r.Context(), name, n)
		if err != nil {
			s.consoleError(w, r, err)
			return
		}
		if sets[i], err = rules.Parse(fmt.Sprintf("%s@%d", name, n), v.Source); err != nil {
			s.consoleFail(w, r, http.StatusUnprocessableEntity, err.Error())
			return
		}
	}
	s.render(w, r, http.StatusOK, "admin_rule_diff", map[string]any{
		"Name": name, "From": from, "To": to, "Versions": vs, "Changes": rules.Diff(sets[0], sets[1]),
	})
}

// distinctMatches keeps the first match of each rule and text (a term
// found in the title and the description is shown once).
func distinctMatches(ms []wildwatch.Match) []wildwatch.Match {
	type key struct{ rule, text string }
	seen := map[key]bool{}
	out := ms[:0:0]
	for _, m := range ms {
		k := key{m.Rule, strings.ToLower(m.Text)}
		if !seen[k] {
			seen[k] = true
			out = append(out, m)
		}
	}
	return out
}
