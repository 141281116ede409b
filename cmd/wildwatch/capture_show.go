package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
)

// runCaptureShow prints a capture for people: what was fetched, how it
// compares with the listing's capture before, whether its evidence
// verifies, the listing's text with the matched words marked «…», the
// matches, and for investigators the HTTP exchange.
func runCaptureShow(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "capture show", "capture show CAPTURE_ID [--json]")
	c := remoteFlags(fs, e)
	asJSON := fs.Bool("json", false, "print the capture, its matches, exchange, manifest and verification as JSON")
	arg, err := oneArg(fs, args, "capture ID")
	if err != nil {
		return err
	}
	v, err := c.CaptureFull(ctx, arg)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e, v)
	}
	printCapture(e.out, v)
	if v.Verification != nil && !v.Verification.OK {
		return exitError{1}
	}
	return nil
}

// printCapture writes a capture view as text.
func printCapture(w io.Writer, v api.CaptureFullView) {
	cp := v.Capture
	fmt.Fprintf(w, "capture %s  sweep %s  target %s\n", cp.ID, cp.SweepID, cp.Target)
	fmt.Fprintf(w, "url       %s\n", cp.URL)
	if cp.FinalURL != "" && cp.FinalURL != cp.URL {
		fmt.Fprintf(w, "final url %s\n", cp.FinalURL)
	}
	fmt.Fprintf(w, "fetched   %s  status %d  %s", stamp(cp.FetchedAt), cp.Status, cp.Mode)
	if cp.ModeReason != "" {
		fmt.Fprintf(w, " (%s)", cp.ModeReason)
	}
	fmt.Fprintln(w)
	if v.Change != "" {
		fmt.Fprintf(w, "change    %s", v.Change)
		if v.RefersTo != "" {
			fmt.Fprintf(w, " (revisit of capture %s)", v.RefersTo)
		}
		fmt.Fprintln(w)
	}
	switch r := v.Verification; {
	case r == nil:
		fmt.Fprintln(w, "evidence  NOT CHECKED")
	case r.OK:
		fmt.Fprintf(w, "evidence  verified: the signature and every object match the manifest %s\n", r.ManifestKey)
	default:
		fmt.Fprintf(w, "evidence  FAILED verification (%s)\n", r.ManifestKey)
		for _, p := range r.Problems {
			fmt.Fprintf(w, "          - %s\n", p)
		}
	}
	for _, p := range v.EvidenceErrors {
		fmt.Fprintf(w, "          ! %s\n", p)
	}
	vd := v.Verdict
	switch {
	case v.Change == wildwatch.ChangeRemoved:
		fmt.Fprintln(w, "verdict   none: the listing was removed")
	case vd.Flagged:
		fmt.Fprintf(w, "verdict   FLAGGED %s, score %.2f (%s)\n", vd.Category, vd.Score, vd.RuleSet)
	case vd.Review:
		fmt.Fprintf(w, "verdict   review %s, score %.2f (%s)\n", vd.Category, vd.Score, vd.RuleSet)
	default:
		fmt.Fprintf(w, "verdict   not flagged, score %.2f (%s)\n", vd.Score, vd.RuleSet)
	}

	fmt.Fprintln(w)
	l := v.Listing
	for _, f := range v.Fields {
		if f.Value == "" && len(f.Matches) == 0 {
			continue
		}
		fmt.Fprintf(w, "%-12s %s\n", f.Name, markMatches(f.Value, f.Matches))
	}
	if l.Price != "" {
		fmt.Fprintf(w, "%-12s %s\n", "price", strings.TrimSpace(l.Price+" "+l.Currency))
	}
	if len(vd.Matches) > 0 {
		fmt.Fprintln(w, "\nmatches")
		for _, m := range vd.Matches {
			fmt.Fprintf(w, "  %s[%d:%d] «%s»  rule %s", m.Field, m.Start, m.End, m.Text, m.Rule)
			if m.Category != "" {
				fmt.Fprintf(w, " (%s)", m.Category)
			}
			if m.Weight != 0 {
				fmt.Fprintf(w, " weight %g", m.Weight)
			}
			fmt.Fprintln(w)
		}
	}
	for _, m := range vd.Exclusions {
		fmt.Fprintf(w, "  excluded: %s[%d:%d] «%s» rule %s\n", m.Field, m.Start, m.End, m.Text, m.Rule)
	}
	if x := v.Exchange; x != nil {
		fmt.Fprintf(w, "\nHTTP exchange (WARC %s record %s", x.ResponseRecord, x.RecordID)
		if x.RefersTo != "" {
			fmt.Fprintf(w, ", payload in record %s", x.RefersTo)
		}
		fmt.Fprintln(w, ")")
		fmt.Fprintf(w, "> %s\n", x.Request.Line)
		for _, h := range x.Request.Header {
			fmt.Fprintf(w, "> %s: %s\n", h.Name, h.Value)
		}
		fmt.Fprintf(w, "< %s\n", x.Response.Line)
		for _, h := range x.Response.Header {
			fmt.Fprintf(w, "< %s: %s\n", h.Name, h.Value)
		}
		fmt.Fprintf(w, "  payload %s\n", x.PayloadDigest)
	}
}

// markMatches returns value with each matched span put between « and ».
// Overlapping and touching spans are marked as one; spans outside the
// value or not on character boundaries are left unmarked.
func markMatches(value string, ms []wildwatch.Match) string {
	type span struct{ start, end int }
	var spans []span
	for _, m := range ms {
		if m.Start < 0 || m.End > len(value) || m.Start >= m.End {
			continue
		}
		spans = append(spans, span{m.Start, m.End})
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].start < spans[j].start })
	var merged []span
	for _, s := range spans {
		if n := len(merged); n > 0 && s.start <= merged[n-1].end {
			merged[n-1].end = max(merged[n-1].end, s.end)
			continue
		}
		merged = append(merged, s)
	}
	var b strings.Builder
	at := 0
	for _, s := range merged {
		if !validBoundary(value, s.start) || !validBoundary(value, s.end) {
			continue
		}
		b.WriteString(value[at:s.start])
		b.WriteString("«" + value[s.start:s.end] + "»")
		at = s.end
	}
	b.WriteString(value[at:])
	return b.String()
}

// validBoundary reports whether byte offset i of s starts a character (or
// is its end).
func validBoundary(s string, i int) bool {
	return i == len(s) || (i >= 0 && i < len(s) && (s[i]&0xC0) != 0x80)
}
