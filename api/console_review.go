package api

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// consoleReviewRoutes registers the review queue and the page that shows
// one flag at a time.
func (s *Server) consoleReviewRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /flags", s.page(RoleMonitor, s.reviewQueue))
	m.HandleFunc("GET /flags/{id}", s.page(RoleMonitor, s.reviewFlag))
	m.HandleFunc("POST /flags/{id}/review", s.page(RoleMonitor, s.reviewDecide))
}

// reviewPageSize is how many flags one page of the queue lists.
const reviewPageSize = 50

// reviewStatuses are the statuses the queue filters on, in the order its
// counts show them. wildwatch.FlagReview is a flag sent to a second
// reviewer.
var reviewStatuses = []string{wildwatch.FlagNew, wildwatch.FlagReview, wildwatch.FlagConfirmed, wildwatch.FlagDismissed}

// reviewQueryKeys are the query parameters that make a review queue; the
// flag page carries them so that it can step through the same queue.
var reviewQueryKeys = []string{"platform", "target", "category", "lang", "min", "status", "sweep"}

// reviewFilter is a queue's filter as the request gave it.
type reviewFilter struct {
	Filter storage.ReviewFilter
	// Values are the filter's parameters alone (no page), for links.
	Values url.Values
	// Problem says what in the request could not be used.
	Problem string
}

// Encode returns the queue's parameters as a query string ("" for the
// whole queue).
func (q reviewFilter) Encode() string { return q.Values.Encode() }

// Suffix returns "?…" with the queue's parameters, or "".
func (q reviewFilter) Suffix() string {
	if len(q.Values) == 0 {
		return ""
	}
	return "?" + q.Values.Encode()
}

// parseReviewQueue reads a queue's filter from v (a request's query, or
// the queue a form carried).
func (s *Server) parseReviewQueue(r *http.Request, v url.Values) reviewFilter {
	q := reviewFilter{Values: url.Values{}}
	for _, k := range reviewQueryKeys {
		if x := strings.TrimSpace(v.Get(k)); x != "" {
			q.Values.Set(k, x)
		}
	}
	f := &q.Filter
	f.Target, f.Category, f.Lang, f.SweepID = q.Values.Get("target"), q.Values.Get("category"), q.Values.Get("lang"), q.Values.Get("sweep")
	if st := q.Values.Get("status"); st != "" {
		if !validReviewStatus(st) {
			q.Problem = strings.TrimSpace(q.Problem + " " + s.tr(r, "review.bad_status", "status", st))
			q.Values.Del("status")
		} else {
			f.Status = st
		}
	}
	if p := q.Values.Get("platform"); p != "" {
		// A platform is the targets that name it (several targets can
		// watch one marketplace).
		ts, err := s.cfg.Catalog.ListTargets(r.Context())
		if err != nil {
			s.cfg.Logger.ErrorContext(r.Context(), "listing targets for the platform filter", "err", err)
			q.Problem = strings.TrimSpace(q.Problem + " " + s.tr(r, "error.internal"))
		}
		f.Targets = []string{}
		for _, t := range ts {
			if platformOf(t) == p {
				f.Targets = append(f.Targets, t.Name)
			}
		}
	}
	if m := q.Values.Get("min"); m != "" {
		score, err := strconv.ParseFloat(m, 64)
		if err != nil || score < 0 {
			q.Problem = strings.TrimSpace(q.Problem + " " + s.tr(r, "review.bad_score", "score", m))
			q.Values.Del("min")
		} else {
			f.MinScore = score
		}
	}
	return q
}

func validReviewStatus(st string) bool {
	for _, x := range reviewStatuses {
		if st == x {
			return true
		}
	}
	return false
}

// reviewRow is one flag of the queue.
type reviewRow struct {
	wildwatch.Flag
	Terms string // the matched words, each once
}

// matchedTerms lists the distinct matched texts of a verdict, in order.
func matchedTerms(v wildwatch.Verdict) string {
	seen := map[string]bool{}
	var out []string
	for _, m := range v.Matches {
		t := strings.TrimSpace(m.Text)
		if t == "" || seen[strings.ToLower(t)] {
			continue
		}
		seen[strings.ToLower(t)] = true
		out = append(out, t)
	}
	return strings.Join(out, ", ")
}

// statusCount is one status of the queue and how many flags have it.
type statusCount struct {
	Status string
	N      int
	Query  string // the queue's link with this status
}

// reviewQueue shows the queue: filters, counts per status and a page of
// flags, newest first.
func (s *Server) reviewQueue(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := s.parseReviewQueue(r, r.URL.Query())
	page := 1
	if p, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && p > 1 {
		page = p
	}
	f := q.Filter
	f.Limit, f.Offset = reviewPageSize+1, (page-1)*reviewPageSize
	flags, err := s.cfg.Catalog.ListReviewFlags(ctx, f)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	more := len(flags) > reviewPageSize
	if more {
		flags = flags[:reviewPageSize]
	}
	counts, err := s.cfg.Catalog.CountReviewFlags(ctx, q.Filter)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	facets, err := s.cfg.Catalog.ReviewFacets(ctx)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	ts, err := s.cfg.Catalog.ListTargets(ctx)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	var platforms []string
	for _, t := range ts {
		if p := platformOf(t); !slices.Contains(platforms, p) {
			platforms = append(platforms, p)
		}
	}
	slices.Sort(platforms)
	rows := make([]reviewRow, len(flags))
	for i, fl := range flags {
		rows[i] = reviewRow{Flag: fl, Terms: matchedTerms(fl.Verdict)}
	}
	total := 0
	var byStatus []statusCount
	for _, st := range reviewStatuses {
		total += counts[st]
		byStatus = append(byStatus, statusCount{Status: st, N: counts[st], Query: setQuery(q.Values, "status", st)})
	}
	shown := total
	if q.Filter.Status != "" {
		shown = counts[q.Filter.Status]
	}
	s.render(w, r, http.StatusOK, "review_queue", map[string]any{
		"Rows": rows, "Queue": q, "Query": q.Values, "Facets": facets, "Platforms": platforms, "Statuses": reviewStatuses,
		"Counts": byStatus, "Total": total, "Shown": shown, "AllQuery": setQuery(q.Values, "status", ""),
		"Page": page, "More": more, "From": (page-1)*reviewPageSize + 1, "To": (page-1)*reviewPageSize + len(rows),
		"PageQuery": pageQuery(q.Values), "Problem": q.Problem,
	})
}

// pageQuery returns a function from a page number to the queue's link.
func pageQuery(v url.Values) func(int) string {
	return func(p int) string {
		if p <= 1 {
			return setQuery(v, "page", "")
		}
		return setQuery(v, "page", p)
	}
}

// reviewReasons are the common reasons for a dismissal, by text key.
var reviewReasons = []string{"replica", "legal", "other_sense", "duplicate", "gone", "other"}

// reviewDecide records a decision on a flag and goes on to the next flag
// of the queue the reviewer came from.
func (s *Server) reviewDecide(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id := r.PathValue("id")
	q := s.parseReviewQueue(r, queueValues(r.PostFormValue("next")))
	here := "/flags/" + url.PathEscape(id) + q.Suffix()
	decision := r.PostFormValue("decision")
	reason, note := r.PostFormValue("reason"), strings.TrimSpace(r.PostFormValue("note"))
	if !wildwatch.ValidDecision(decision) {
		s.redirectFlash(w, r, here, false, s.tr(r, "review.bad_decision"))
		return
	}
	knownReason := reason == ""
	for _, k := range reviewReasons {
		knownReason = knownReason || reason == k
	}
	switch {
	case !knownReason:
		s.redirectFlash(w, r, here, false, s.tr(r, "review.bad_reason"))
		return
	case decision == wildwatch.FlagDismissed && reason == "" && note == "":
		s.redirectFlash(w, r, here, false, s.tr(r, "review.reason_required"))
		return
	case reason == "other" && note == "":
		s.redirectFlash(w, r, here, false, s.tr(r, "review.other_needs_text"))
		return
	}
	if reason != "" && reason != "other" {
		label := s.con.text.T(defaultLang, "review.reason."+reason)
		if note != "" {
			note = label + ": " + note
		} else {
			note = label
		}
	}
	_, err := s.cfg.Catalog.AddReview(ctx, wildwatch.Review{
		FlagID: id, Decision: decision, Note: note, Reviewer: principalFrom(ctx).Name, At: time.Now().UTC(),
	})
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	done := s.tr(r, "review.done."+decision)
	_, next, err := s.cfg.Catalog.ReviewNeighbours(ctx, q.Filter, id)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	if next == "" {
		s.redirectFlash(w, r, "/flags"+q.Suffix(), true, done+" "+s.tr(r, "review.queue_done"))
		return
	}
	s.redirectFlash(w, r, "/flags/"+url.PathEscape(next)+q.Suffix(), true, done)
}

// queueValues parses the queue a form carried: a query string, with or
// without its "?" (or a local link to the queue).
func queueValues(s string) url.Values {
	if i := strings.IndexByte(s, '?'); i >= 0 {
		s = s[i+1:]
	}
	v, err := url.ParseQuery(s)
	if err != nil {
		return url.Values{}
	}
	return v
}
