package rules

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/wildwatch/wildwatch"
)

// LineResult is one line written by MatchLines.
type LineResult struct {
	ID       string      `json:"id"`
	Flagged  bool        `json:"flagged"`
	Review   bool        `json:"review,omitempty"`
	Score    float64     `json:"score"`
	Category string      `json:"category"`
	Matches  []LineMatch `json:"matches"`
}

// LineMatch is one match in a LineResult.
type LineMatch struct {
	Rule  string `json:"rule"`
	Field string `json:"field"`
	Start int    `json:"start"`
	End   int    `json:"end"`
	Text  string `json:"text"`
}

// maxLine bounds one JSON line.
const maxLine = 16 << 20

// MatchLines reads listings as JSON Lines from r (the fields of
// wildwatch.Listing; unknown fields are ignored, blank lines skipped) and
// writes one LineResult per listing to w as JSON Lines, in input order. A
// line that is not a JSON object is an error naming its line number. It
// stops when ctx is done.
func MatchLines(ctx context.Context, m *Matcher, r io.Reader, w io.Writer) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	line := 0
	fail := func(err error) error {
		bw.Flush() // keep the results written so far; err says what stopped
		return err
	}
	for sc.Scan() {
		line++
		if err := ctx.Err(); err != nil {
			return fail(err)
		}
		b := trimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if b[0] != '{' {
			return fail(fmt.Errorf("line %d: not a JSON object", line))
		}
		var l wildwatch.Listing
		if err := json.Unmarshal(b, &l); err != nil {
			return fail(fmt.Errorf("line %d: %w", line, err))
		}
		v := m.Match(l)
		res := LineResult{ID: l.ID, Flagged: v.Flagged, Review: v.Review, Score: v.Score, Category: v.Category, Matches: []LineMatch{}}
		for _, mt := range v.Matches {
			res.Matches = append(res.Matches, LineMatch{Rule: mt.Rule, Field: mt.Field, Start: mt.Start, End: mt.End, Text: mt.Text})
		}
		if err := enc.Encode(res); err != nil {
			return fmt.Errorf("writing result for line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fail(fmt.Errorf("line %d: longer than %d bytes", line+1, maxLine))
		}
		return fail(fmt.Errorf("reading listings: %w", err))
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing results: %w", err)
	}
	return nil
}

func trimSpace(b []byte) []byte {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a byte-order mark
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}
