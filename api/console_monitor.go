package api

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// consoleMonitorRoutes registers the monitors' pages: the dashboard of
// targets and sweeps, a sweep's live progress, and charts.
func (s *Server) consoleMonitorRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /{$}", s.page(RoleMonitor, s.consoleHome))
	m.HandleFunc("GET /sweeps", s.page(RoleMonitor, s.monitorSweeps))
	m.HandleFunc("GET /sweeps/{id}", s.page(RoleMonitor, s.monitorSweep))
	m.HandleFunc("POST /sweeps/start", s.page(RoleMonitor, s.monitorStart))
	m.HandleFunc("POST /sweeps/{id}/pause", s.page(RoleMonitor, s.monitorControl("pause")))
	m.HandleFunc("POST /sweeps/{id}/resume", s.page(RoleMonitor, s.monitorControl("resume")))
	m.HandleFunc("POST /sweeps/{id}/cancel", s.page(RoleMonitor, s.monitorControl("cancel")))
}

// monitorRecent is how long an ended sweep stays among the dashboard's
// live sweeps, so that its monitor sees how it ended.
const monitorRecent = 15 * time.Minute

// monitorSweepView is a sweep as the monitor pages show it.
type monitorSweepView struct {
	wildwatch.Sweep
	Progress storage.TaskProgress
	Kinds    []kindCount
}

// Active reports whether the sweep can still change.
func (v monitorSweepView) Active() bool { return wildwatch.SweepActive(v.Status) }

// Duration is how long the sweep ran (so far, while it runs).
func (v monitorSweepView) Duration() time.Duration {
	if v.FinishedAt != nil {
		return v.FinishedAt.Sub(v.CreatedAt)
	}
	return time.Since(v.CreatedAt)
}

// Percent is the share of the sweep's tasks settled, 0 to 100.
func (v monitorSweepView) Percent() int {
	if v.Progress.Total == 0 {
		return 0
	}
	return v.Progress.Settled * 100 / v.Progress.Total
}

type kindCount struct {
	Kind  string
	Count int
}

// sortedKinds turns errors by kind into a list, most first.
func sortedKinds(m map[string]int) []kindCount {
	out := make([]kindCount, 0, len(m))
	for k, n := range m {
		out = append(out, kindCount{k, n})
	}
	slices.SortFunc(out, func(a, b kindCount) int {
		if a.Count != b.Count {
			return b.Count - a.Count
		}
		return strings.Compare(a.Kind, b.Kind)
	})
	return out
}

func (s *Server) sweepView(r *http.Request, sw wildwatch.Sweep) (monitorSweepView, error) {
	v := monitorSweepView{Sweep: sw, Kinds: sortedKinds(sw.Counts.ErrorsByKind)}
	var err error
	v.Progress, err = s.cfg.Catalog.SweepProgress(r.Context(), sw.ID)
	return v, err
}

// monitorTarget is one row of the dashboard's targets.
type monitorTarget struct {
	wildwatch.Target
	Platform string
	NextRun  time.Time
	Last     *monitorSweepView
}

// platformOf is the target's platform label: its own, or the host of its
// first start URL.
func platformOf(t wildwatch.Target) string {
	if t.Platform != "" {
		return t.Platform
	}
	for _, u := range t.StartURLs {
		if p, err := url.Parse(u); err == nil && p.Host != "" {
			return p.Host
		}
	}
	return t.Name
}

func (s *Server) consoleHome(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	live, stop, err := s.liveSweeps(r)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if r.URL.Query().Get("fragment") == "live" {
		if stop {
			w.Header().Set("X-Poll-Stop", "1")
		}
		s.renderFragment(w, r, "monitor_home", "monitor_live", map[string]any{"Live": live, "Next": "/"})
		return
	}
	ts, targets, err := s.monitorTargets(r)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if r.URL.Query().Get("fragment") == "targets" {
		if stop {
			w.Header().Set("X-Poll-Stop", "1")
		}
		s.renderFragment(w, r, "monitor_home", "monitor_targets", map[string]any{"Targets": targets})
		return
	}
	newFlags, err := s.cfg.Catalog.CountFlagsByStatus(ctx, wildwatch.FlagNew)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	charts, err := s.monitorCharts(r, ts)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "monitor_home", map[string]any{
		"Live": live, "LiveStop": stop, "Targets": targets, "NewFlags": newFlags, "Charts": charts, "Next": "/",
	})
}

// monitorTargets returns every target with its next scheduled run and its
// last sweep, for the dashboard.
func (s *Server) monitorTargets(r *http.Request) ([]wildwatch.Target, []monitorTarget, error) {
	ctx := r.Context()
	ts, err := s.cfg.Catalog.ListTargets(ctx)
	if err != nil {
		return nil, nil, err
	}
	next := map[string]time.Time{}
	if rep, ok := s.cfg.Sweeps.(ScheduleReporter); ok {
		if n, err := rep.NextRuns(ctx, ts); err != nil {
			s.cfg.Logger.WarnContext(ctx, "next runs unknown", "err", err)
		} else {
			next = n
		}
	}
	targets := make([]monitorTarget, 0, len(ts))
	for _, t := range ts {
		mt := monitorTarget{Target: t, Platform: platformOf(t), NextRun: next[t.Name]}
		last, err := s.cfg.Catalog.LatestSweep(ctx, t.Name)
		switch {
		case err == nil:
			v, err := s.sweepView(r, last)
			if err != nil {
				return nil, nil, err
			}
			mt.Last = &v
		case !errors.Is(err, storage.ErrNotFound):
			return nil, nil, err
		}
		targets = append(targets, mt)
	}
	return ts, targets, nil
}

// liveSweeps returns the sweeps that are queued, running or paused, and
// those that ended in the last monitorRecent; stop is true when none of
// them can change any more.
func (s *Server) liveSweeps(r *http.Request) (live []monitorSweepView, stop bool, err error) {
	ctx := r.Context()
	// One read of every unfinished sweep: reading each status apart would
	// miss a sweep that moves from one to another in between.
	ss, _, err := s.cfg.Catalog.ListSweepPage(ctx, storage.SweepPage{Active: true, Limit: 150})
	if err != nil {
		return nil, false, err
	}
	recent, err := s.cfg.Catalog.ListSweeps(ctx, storage.SweepFilter{Limit: 20})
	if err != nil {
		return nil, false, err
	}
	since := s.con.now().Add(-monitorRecent)
	for _, sw := range recent {
		if sw.FinishedAt != nil && sw.FinishedAt.After(since) && !slices.ContainsFunc(ss, func(o wildwatch.Sweep) bool { return o.ID == sw.ID }) {
			ss = append(ss, sw)
		}
	}
	stop = true
	for _, sw := range ss {
		v, err := s.sweepView(r, sw)
		if err != nil {
			return nil, false, err
		}
		if v.Active() {
			stop = false
		}
		live = append(live, v)
	}
	return live, stop, nil
}

// sweepsPerPage is the length of a page of sweeps or of a sweep's errors.
const sweepsPerPage = 50

// pageNumber reads the page parameter, 1 when absent or wrong.
func pageNumber(r *http.Request) int {
	n, err := intParam(r, "page")
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// monitorStatuses are the statuses the sweeps page filters by.
var monitorStatuses = []string{wildwatch.SweepQueued, wildwatch.SweepRunning, wildwatch.SweepPaused,
	wildwatch.SweepFinished, wildwatch.SweepFailed, wildwatch.SweepCancelled}

func (s *Server) monitorSweeps(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	f := storage.SweepPage{Target: q.Get("target"), Status: q.Get("status"), Limit: sweepsPerPage}
	if f.Status != "" && !slices.Contains(monitorStatuses, f.Status) {
		s.consoleFail(w, r, http.StatusBadRequest, s.tr(r, "monitor.sweeps.bad_status", "status", f.Status))
		return
	}
	page := pageNumber(r)
	f.Offset = (page - 1) * sweepsPerPage
	ss, total, err := s.cfg.Catalog.ListSweepPage(ctx, f)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	ts, err := s.cfg.Catalog.ListTargets(ctx)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	names := make([]string, 0, len(ts))
	for _, t := range ts {
		names = append(names, t.Name)
	}
	if f.Target != "" && !slices.Contains(names, f.Target) {
		names = append(names, f.Target)
	}
	views := make([]monitorSweepView, 0, len(ss))
	for _, sw := range ss {
		views = append(views, monitorSweepView{Sweep: sw, Kinds: sortedKinds(sw.Counts.ErrorsByKind)})
	}
	s.render(w, r, http.StatusOK, "monitor_sweeps", map[string]any{
		"Sweeps": views, "Total": total, "Page": page, "Prev": page > 1, "More": f.Offset+len(ss) < total,
		"Targets": names, "Statuses": monitorStatuses, "Target": f.Target, "Status": f.Status,
	})
}

func (s *Server) monitorSweep(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sw, err := s.cfg.Catalog.GetSweep(ctx, r.PathValue("id"))
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	v, err := s.sweepView(r, sw)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	data := map[string]any{"Sweep": v, "Next": "/sweeps/" + sw.ID}
	if r.URL.Query().Get("fragment") == "live" {
		if !v.Active() {
			w.Header().Set("X-Poll-Stop", "1")
		}
		s.renderFragment(w, r, "monitor_sweep", "monitor_sweep_live", data)
		return
	}
	page := pageNumber(r)
	errs, total, err := s.cfg.Catalog.SweepErrorPage(ctx, sw.ID, sweepsPerPage, (page-1)*sweepsPerPage)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	data["Errors"], data["ErrorTotal"], data["Page"] = errs, total, page
	data["Prev"], data["More"] = page > 1, (page-1)*sweepsPerPage+len(errs) < total
	s.render(w, r, http.StatusOK, "monitor_sweep", data)
}

// monitorStart starts a sweep of the form's target.
func (s *Server) monitorStart(w http.ResponseWriter, r *http.Request) {
	back := localPath(r.PostFormValue("next"))
	target := strings.TrimSpace(r.PostFormValue("target"))
	if target == "" {
		s.redirectFlash(w, r, back, false, s.tr(r, "monitor.start.no_target"))
		return
	}
	sw, err := s.cfg.Sweeps.StartSweep(r.Context(), target)
	if err != nil {
		s.cfg.Logger.WarnContext(r.Context(), "console sweep start failed", "target", target, "err", err)
		msg := s.tr(r, "monitor.start.failed", "target", target)
		if errors.Is(err, storage.ErrNotFound) {
			msg = s.tr(r, "monitor.start.unknown", "target", target)
		}
		s.redirectFlash(w, r, back, false, msg)
		return
	}
	s.cfg.Logger.InfoContext(r.Context(), "sweep started", "sweep", sw.ID, "target", target, "by", principalFrom(r.Context()).Name)
	s.redirectFlash(w, r, back, true, s.tr(r, "monitor.start.done", "target", target, "sweep", sw.ID))
}

// monitorControl pauses, resumes or cancels the sweep in the path.
func (s *Server) monitorControl(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		back := localPath(r.PostFormValue("next"))
		if back == "/" && r.PostFormValue("next") == "" {
			back = "/sweeps/" + url.PathEscape(id)
		}
		c, ok := s.cfg.Sweeps.(SweepController)
		if !ok {
			s.redirectFlash(w, r, back, false, s.tr(r, "monitor.control.unsupported"))
			return
		}
		ctx := r.Context()
		by := principalFrom(ctx).Name
		var err error
		switch action {
		case "pause":
			_, err = c.PauseSweep(ctx, id, "paused by "+by)
		case "resume":
			_, err = c.ResumeSweep(ctx, id)
		default:
			_, err = c.CancelSweep(ctx, id, "cancelled by "+by)
		}
		switch {
		case errors.Is(err, storage.ErrSweepStatus):
			s.redirectFlash(w, r, back, false, s.tr(r, "monitor.control.conflict_"+action, "sweep", id))
		case err != nil:
			s.consoleError(w, r, err)
		default:
			s.cfg.Logger.InfoContext(ctx, "sweep "+action, "sweep", id, "by", by)
			s.redirectFlash(w, r, back, true, s.tr(r, "monitor.control.done_"+action, "sweep", id))
		}
	}
}

func init() {
	addConsoleFuncs(map[string]any{
		// monInterval prints a schedule's interval as targets write it.
		"monInterval": func(d wildwatch.Interval) string {
			b, err := d.MarshalText()
			if err != nil {
				return time.Duration(d).String()
			}
			return string(b)
		},
	})
}
