package api

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

// consoleAdminRoutes registers the admins' pages: targets, rule sets,
// users and tokens.
func (s *Server) consoleAdminRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /admin/targets", s.page(RoleAdmin, s.adminTargets))
	m.HandleFunc("GET /admin/targets/{name}", s.page(RoleAdmin, s.adminTarget))
	m.HandleFunc("POST /admin/targets/{name}", s.page(RoleAdmin, s.adminTargetSave))
	m.HandleFunc("POST /admin/targets/{name}/schedule", s.page(RoleAdmin, s.adminTargetSchedule))
	m.HandleFunc("POST /admin/targets/{name}/probe", s.page(RoleAdmin, s.adminTargetProbe))
	s.consoleAdminRuleRoutes(m)
	s.consoleAdminUserRoutes(m)
}

// newTargetName is the path name of the editor of a target not stored yet.
const newTargetName = "new"

// newTargetYAML is what the editor of a new target starts from.
const newTargetYAML = `name: my-target
platform: example-market
allowed_hosts:
  - market.example.org
start_urls:
  - https://market.example.org/category/all
selectors:
  listing_links: a.listing-link
  next_page: a.next
  fields:
    title: h1.title
    description: div.description
    price: span.price
    seller: span.seller
`

// adminTargetRow is one target in the list.
type adminTargetRow struct {
	Target    wildwatch.Target
	Schedule  string
	LastSweep *wildwatch.Sweep
}

func (s *Server) adminTargets(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ts, err := s.cfg.Catalog.ListTargets(ctx)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	rows := make([]adminTargetRow, 0, len(ts))
	for _, t := range ts {
		row := adminTargetRow{Target: t, Schedule: scheduleSummary(t.Schedule)}
		last, err := s.cfg.Catalog.LatestSweep(ctx, t.Name)
		switch {
		case err == nil:
			row.LastSweep = &last
		case !errors.Is(err, storage.ErrNotFound):
			s.consoleError(w, r, err)
			return
		}
		rows = append(rows, row)
	}
	s.render(w, r, http.StatusOK, "admin_targets", map[string]any{"Targets": rows})
}

// scheduleSummary is a schedule in one line ("cron 0 */6 * * * · 22:00-06:00
// Europe/Berlin"), "" for none.
func scheduleSummary(sc *wildwatch.Schedule) string {
	if sc == nil {
		return ""
	}
	var parts []string
	if sc.Cron != "" {
		parts = append(parts, "cron "+sc.Cron)
	}
	if sc.Every != 0 {
		b, _ := sc.Every.MarshalText()
		parts = append(parts, "every "+string(b))
	}
	if sc.Window != "" {
		parts = append(parts, sc.Window)
	}
	if sc.TZ != "" {
		parts = append(parts, sc.TZ)
	}
	return strings.Join(parts, " · ")
}

// targetEditor is the data of the target editor page.
type targetEditor struct {
	Name     string // the path name: a stored target's, or newTargetName
	New      bool
	Source   string
	Problem  *sourceProblem
	Schedule scheduleForm
	Probe    *probeResult
	ProbeURL string
	Kind     string // "index" or "listing"
	Starts   []string
}

// sourceProblem is an error in a YAML document, with the lines around it.
type sourceProblem struct {
	Message string
	Line    int
	Lines   []sourceLine
}

// sourceLine is one numbered line of a document shown beside an error.
type sourceLine struct {
	N    int
	Text string
	Bad  bool
}

// fileLine finds "file:LINE:" in a parser's message.
var fileLine = regexp.MustCompile(`^[^\s:]+:(\d+):`)

// newSourceProblem describes err for src: the line it names (from a
// *crawler.TargetError, or the file:line a message starts with) and the
// lines around it.
func newSourceProblem(src []byte, err error) *sourceProblem {
	p := &sourceProblem{Message: err.Error()}
	var te *crawler.TargetError
	if errors.As(err, &te) {
		p.Line = te.Line
	} else if m := fileLine.FindStringSubmatch(p.Message); m != nil {
		p.Line, _ = strconv.Atoi(m[1])
	}
	if p.Line <= 0 {
		return p
	}
	lines := strings.Split(string(src), "\n")
	for n := max(1, p.Line-3); n <= min(len(lines), p.Line+3); n++ {
		p.Lines = append(p.Lines, sourceLine{N: n, Text: lines[n-1], Bad: n == p.Line})
	}
	return p
}

// scheduleForm is a target's schedule as the editor's small form shows it.
type scheduleForm struct {
	Kind   string // "off", "cron" or "every"
	Cron   string
	Every  string
	Window string
	TZ     string
}

func newScheduleForm(sc *wildwatch.Schedule) scheduleForm {
	if sc == nil {
		return scheduleForm{Kind: "off"}
	}
	f := scheduleForm{Kind: "cron", Cron: sc.Cron, Window: sc.Window, TZ: sc.TZ}
	if sc.Every != 0 {
		b, _ := sc.Every.MarshalText()
		f.Kind, f.Every = "every", string(b)
	}
	return f
}

func (s *Server) adminTarget(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if name == newTargetName {
		s.render(w, r, http.StatusOK, "admin_target", targetEditor{Name: name, New: true, Source: newTargetYAML,
			Schedule: scheduleForm{Kind: "off"}, Kind: "index"})
		return
	}
	t, src, err := s.cfg.Catalog.GetTarget(r.Context(), name)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if len(bytes.TrimSpace(src)) == 0 {
		if src, err = yaml.Marshal(t); err != nil {
			s.consoleError(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "admin_target", s.targetEditorFor(name, t, string(src)))
}

// targetEditorFor fills the editor of the stored target t.
func (s *Server) targetEditorFor(name string, t wildwatch.Target, src string) targetEditor {
	e := targetEditor{Name: name, Source: src, Schedule: newScheduleForm(t.Schedule), Kind: "index", Starts: t.StartURLs}
	if len(t.StartURLs) > 0 {
		e.ProbeURL = t.StartURLs[0]
	}
	return e
}

// adminTargetSave checks the typed document with crawler.ParseTarget and
// stores it; on an error the editor comes back with what was typed and
// the error at its line.
func (s *Server) adminTargetSave(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	src := normalizeNewlines(r.PostFormValue("source"))
	isNew := name == newTargetName
	t, err := crawler.ParseTarget(cmpName(name, "target")+".yaml", []byte(src))
	if err == nil {
		switch {
		case isNew:
			if _, _, gerr := s.cfg.Catalog.GetTarget(ctx, t.Name); gerr == nil {
				err = errors.New(s.tr(r, "admin.target_exists", "name", t.Name))
			} else if !errors.Is(gerr, storage.ErrNotFound) {
				s.consoleError(w, r, gerr)
				return
			}
		case t.Name != name:
			err = errors.New(s.tr(r, "admin.target_renamed", "name", name))
		}
	}
	if err != nil {
		e := targetEditor{Name: name, New: isNew, Source: src, Problem: newSourceProblem([]byte(src), err),
			Kind: "index", Schedule: scheduleForm{Kind: "off"}}
		if old, _, gerr := s.cfg.Catalog.GetTarget(ctx, name); gerr == nil && !isNew {
			e = s.targetEditorFor(name, old, src)
			e.Problem = newSourceProblem([]byte(src), err)
		}
		s.render(w, r, http.StatusUnprocessableEntity, "admin_target", e)
		return
	}
	if err := s.cfg.Catalog.PutTarget(ctx, t, []byte(src)); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.cfg.Logger.InfoContext(ctx, "target applied", "target", t.Name, "by", principalFrom(ctx).Name)
	s.redirectFlash(w, r, "/admin/targets/"+t.Name, true, s.tr(r, "admin.target_saved", "name", t.Name))
}

func cmpName(name, fallback string) string {
	if name == newTargetName || name == "" {
		return fallback
	}
	return name
}

// normalizeNewlines turns the CR LF a browser sends for a textarea into LF.
func normalizeNewlines(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }

// adminTargetSchedule sets or turns off a target's schedule as PUT
// /api/v1/targets/{name}/schedule does: the stored document is edited with
// crawler.SetSchedule and checked as a target applied anew.
func (s *Server) adminTargetSchedule(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	name := r.PathValue("name")
	to := "/admin/targets/" + name
	t, src, err := s.cfg.Catalog.GetTarget(ctx, name)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	var sch *wildwatch.Schedule
	switch r.PostFormValue("kind") {
	case "off", "":
	case "cron":
		sch = &wildwatch.Schedule{Cron: strings.TrimSpace(r.PostFormValue("cron"))}
	case "every":
		d, err := wildwatch.ParseInterval(strings.TrimSpace(r.PostFormValue("every")))
		if err != nil {
			s.redirectFlash(w, r, to, false, s.tr(r, "admin.schedule_bad", "err", err.Error()))
			return
		}
		sch = &wildwatch.Schedule{Every: wildwatch.Interval(d)}
	default:
		s.consoleFail(w, r, http.StatusBadRequest, s.tr(r, "admin.schedule_kind"))
		return
	}
	if sch != nil {
		sch.Window = strings.TrimSpace(r.PostFormValue("window"))
		sch.TZ = strings.TrimSpace(r.PostFormValue("tz"))
	}
	src, t, err = crawler.SetSchedule(name+".yaml", src, t, sch)
	if err != nil {
		s.redirectFlash(w, r, to, false, s.tr(r, "admin.schedule_bad", "err", err.Error()))
		return
	}
	if err := s.cfg.Catalog.PutTarget(ctx, t, src); err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.cfg.Logger.InfoContext(ctx, "schedule changed", "target", name, "by", principalFrom(ctx).Name, "schedule", sch)
	s.redirectFlash(w, r, to, true, s.tr(r, "admin.schedule_saved"))
}

// probeTimeout bounds a selector test: robots.txt, the page and its
// redirects.
const probeTimeout = 20 * time.Second

// probeResult is what a target's selectors extract from one page.
type probeResult struct {
	URL      string
	FinalURL string
	Status   int
	Bytes    int64
	Kind     string
	Error    string
	// Render says why a sweep would render the page in a browser, which
	// a selector test does not.
	Render string
	Links  []string
	Next   string
	Fields []probeField
	Images []string
}

// probeField is one listing field's selector and what it extracted.
type probeField struct {
	Name     string
	Selector string
	Value    string
}

// adminTargetProbe fetches one page with the target as typed in the editor
// and shows what its selectors extract, storing nothing. The editor comes
// back with the typed document untouched.
func (s *Server) adminTargetProbe(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	src := normalizeNewlines(r.PostFormValue("source"))
	e := targetEditor{Name: name, New: name == newTargetName, Source: src, Kind: r.PostFormValue("kind"),
		ProbeURL: strings.TrimSpace(r.PostFormValue("url")), Schedule: scheduleForm{Kind: "off"}}
	if e.Kind != "listing" {
		e.Kind = "index"
	}
	if !e.New {
		if old, _, err := s.cfg.Catalog.GetTarget(r.Context(), name); err == nil {
			e.Schedule = newScheduleForm(old.Schedule)
		}
	}
	t, err := crawler.ParseTarget(cmpName(name, "target")+".yaml", []byte(src))
	if err != nil {
		e.Problem = newSourceProblem([]byte(src), err)
		s.render(w, r, http.StatusUnprocessableEntity, "admin_target", e)
		return
	}
	e.Starts = t.StartURLs
	if e.ProbeURL == "" && len(t.StartURLs) > 0 {
		e.ProbeURL = t.StartURLs[0]
	}
	if e.ProbeURL == "" {
		e.Problem = &sourceProblem{Message: s.tr(r, "admin.probe_no_url")}
		s.render(w, r, http.StatusUnprocessableEntity, "admin_target", e)
		return
	}
	e.Probe = probeTarget(r.Context(), t, e.ProbeURL, e.Kind)
	s.cfg.Logger.InfoContext(r.Context(), "selector test", "target", t.Name, "url", e.ProbeURL, "by", principalFrom(r.Context()).Name, "err", e.Probe.Error)
	if e.Probe.Render != "" {
		e.Probe.Error = s.tr(r, "admin.probe_render", "why", e.Probe.Render)
	}
	s.render(w, r, http.StatusOK, "admin_target", e)
}

// probeTarget fetches rawURL for t and applies its selectors for a page of
// kind ("index" or "listing").
//
// The API process does not crawl: workers do, with the shared limiter,
// robots cache and daily caps of the deployment, and the API has no
// fetcher of its own. A selector test is one page now and then, asked for
// by an admin, so it gets a crawler.Fetcher of its own, made for the test
// and closed after it. Being the crawler's Fetcher, it keeps every rule a
// sweep keeps: the target's allowed hosts, the address guard (private
// addresses only for a target that allows them), robots.txt and the
// target's request timeout, bounded here by probeTimeout. Its limiter is
// private, which one request (with robots.txt) per press can afford; pages
// are fetched statically, not rendered in a browser.
func probeTarget(ctx context.Context, t wildwatch.Target, rawURL, kind string) *probeResult {
	p := &probeResult{URL: rawURL, Kind: kind}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	f := crawler.New(crawler.Config{MaxLimiterWait: probeTimeout})
	defer f.Close()
	if t.Limits.Timeout == 0 || time.Duration(t.Limits.Timeout) > probeTimeout {
		t.Limits.Timeout = wildwatch.Duration(probeTimeout)
	}
	c, err := f.Fetch(ctx, t, rawURL)
	if c != nil {
		p.FinalURL, p.Status, p.Bytes = c.FinalURL, c.Status, int64(len(c.Body))
	}
	if err != nil {
		p.Error = err.Error()
		return p
	}
	page := c.Text
	if kind == "listing" {
		l, err := crawler.ExtractListing(t, c.FinalURL, page)
		if err != nil {
			p.Error = err.Error()
		}
		fs := t.Selectors.Fields
		for _, f := range []probeField{
			{"title", fs.Title, l.Title}, {"description", fs.Description, l.Description},
			{"price", fs.Price, l.Price}, {"currency", fs.Currency, l.Currency},
			{"seller", fs.Seller, l.Seller}, {"location", fs.Location, l.Location},
			{"lang", fs.Lang, l.Lang},
		} {
			if f.Selector != "" || f.Value != "" {
				p.Fields = append(p.Fields, f)
			}
		}
		p.Images = l.Images
		return p
	}
	links, err := crawler.ExtractLinks(t, c.FinalURL, page)
	if err != nil {
		p.Error = err.Error()
	}
	p.Links, p.Next = links.Listings, links.Next
	if len(p.Links) == 0 && p.Error == "" {
		if need, why := crawler.NeedsRender(t, wildwatch.PageIndex, rawURL, c); need {
			p.Render = why
		}
	}
	return p
}
