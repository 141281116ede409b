package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/storage"
)

// reviewMatch is one match of a flag, numbered in the order the page
// lists them.
type reviewMatch struct {
	wildwatch.Match
	N int
	// Placed reports that the match is marked in its field's text (its
	// offsets lie in the text, on character boundaries).
	Placed bool
}

// reviewSegment is a run of a field's original text, marked when matches
// cover it (several when they overlap: the mark spans them all).
type reviewSegment struct {
	Text       string
	Start, End int // byte offsets in the field's text
	Matches    []*reviewMatch
}

// Numbers returns the numbers of the segment's matches, "1,2".
func (g reviewSegment) Numbers() string {
	ns := make([]string, len(g.Matches))
	for i, m := range g.Matches {
		ns[i] = strconv.Itoa(m.N)
	}
	return strings.Join(ns, ",")
}

// Rules describes the segment's matches for a tooltip.
func (g reviewSegment) Rules() string {
	rs := make([]string, len(g.Matches))
	for i, m := range g.Matches {
		rs[i] = fmt.Sprintf("%d: %s · %s · %.2f", m.N, m.Rule, m.Category, m.Weight)
	}
	return strings.Join(rs, "; ")
}

// reviewField is one text field of a listing with its matches marked.
type reviewField struct {
	Name     string
	Value    string
	Segments []reviewSegment
	Matches  []*reviewMatch
}

// markFields cuts each text field of the listing into plain and marked
// runs at the byte offsets of the verdict's matches, and numbers the
// matches from 1 across fields. Overlapping matches share one mark. A
// field without text and without matches is left out.
func markFields(l wildwatch.Listing, v wildwatch.Verdict) ([]reviewField, []*reviewMatch) {
	var fields []reviewField
	var all []*reviewMatch
	for _, fm := range fieldMatches(l, v) {
		if fm.Value == "" && len(fm.Matches) == 0 {
			continue
		}
		f := reviewField{Name: fm.Name, Value: fm.Value}
		ms := append([]wildwatch.Match(nil), fm.Matches...)
		sort.SliceStable(ms, func(i, j int) bool {
			if ms[i].Start != ms[j].Start {
				return ms[i].Start < ms[j].Start
			}
			return ms[i].End > ms[j].End
		})
		var marks []reviewSegment
		for _, m := range ms {
			rm := &reviewMatch{Match: m}
			all = append(all, rm)
			rm.N = len(all)
			f.Matches = append(f.Matches, rm)
			if m.Start < 0 || m.End <= m.Start || m.End > len(fm.Value) || !boundary(fm.Value, m.Start) || !boundary(fm.Value, m.End) {
				continue
			}
			rm.Placed = true
			if n := len(marks); n > 0 && m.Start < marks[n-1].End {
				marks[n-1].End = max(marks[n-1].End, m.End)
				marks[n-1].Matches = append(marks[n-1].Matches, rm)
				continue
			}
			marks = append(marks, reviewSegment{Start: m.Start, End: m.End, Matches: []*reviewMatch{rm}})
		}
		at := 0
		for _, mk := range marks {
			if mk.Start > at {
				f.Segments = append(f.Segments, reviewSegment{Text: fm.Value[at:mk.Start], Start: at, End: mk.Start})
			}
			mk.Text = fm.Value[mk.Start:mk.End]
			f.Segments = append(f.Segments, mk)
			at = mk.End
		}
		if at < len(fm.Value) {
			f.Segments = append(f.Segments, reviewSegment{Text: fm.Value[at:], Start: at, End: len(fm.Value)})
		}
		fields = append(fields, f)
	}
	return fields, all
}

// boundary reports whether byte offset i of s starts a character (or is
// its end).
func boundary(s string, i int) bool {
	return i == len(s) || (i >= 0 && i < len(s) && utf8.RuneStart(s[i]))
}

// reviewCapture is an earlier (or later) capture of the flag's listing.
type reviewCapture struct {
	storage.CaptureRecord
	FlagID  string // the flag the capture raised, if any
	Current bool   // the capture of the flag shown
}

// reviewFlag shows one flag: screenshot, fields, text with the matches
// marked, the listing's captures, the flag's reviews and the decisions.
func (s *Server) reviewFlag(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := s.cfg.Catalog.GetFlag(ctx, r.PathValue("id"))
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	q := s.parseReviewQueue(r, r.URL.Query())
	rec, err := s.cfg.Catalog.GetCapture(ctx, f.CaptureID)
	hasCapture := err == nil
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.consoleError(w, r, err)
		return
	}
	listingURL := f.Listing.URL
	if listingURL == "" {
		listingURL = f.URL
	}
	history, err := s.cfg.Catalog.ListingHistory(ctx, f.Target, f.URL)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	ids := make([]string, len(history))
	for i, h := range history {
		ids[i] = h.Capture.ID
	}
	flagOf, err := s.cfg.Catalog.FlagsOfCaptures(ctx, ids)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	captures := make([]reviewCapture, len(history))
	for i, h := range history {
		// Newest first, like the queue.
		captures[len(history)-1-i] = reviewCapture{CaptureRecord: h, FlagID: flagOf[h.Capture.ID], Current: h.Capture.ID == f.CaptureID}
	}
	prev, next, err := s.cfg.Catalog.ReviewNeighbours(ctx, q.Filter, f.ID)
	if err != nil {
		s.consoleError(w, r, err)
		return
	}
	fields, matches := markFields(f.Listing, f.Verdict)
	reasons := make([]map[string]string, len(reviewReasons))
	for i, k := range reviewReasons {
		reasons[i] = map[string]string{"Key": k, "Label": s.tr(r, "review.reason."+k)}
	}
	s.render(w, r, http.StatusOK, "review_flag", map[string]any{
		"Flag": f, "Capture": rec, "HasCapture": hasCapture, "Shot": hasCapture && rec.ScreenshotKey != "",
		"ListingURL": safeHTTPURL(listingURL), "Fields": fields, "Matches": matches, "Captures": captures,
		"Queue": q, "Prev": prev, "Next": next, "Reasons": reasons,
		"CaptureID": url.PathEscape(f.CaptureID),
	})
}

// safeHTTPURL returns u when it is an http or https URL, else "" (a
// listing's URL comes from the site crawled).
func safeHTTPURL(u string) string {
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return u
}
