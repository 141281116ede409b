package storage

import (
	"context"
	"fmt"

	"github.com/wildwatch/wildwatch"
)

// BundleSelection says which captures a case bundle holds: every capture
// of a sweep (only the flagged ones with FlaggedOnly), or the captures of
// the flags named. Exactly one of SweepID and FlagIDs is given.
type BundleSelection struct {
	SweepID     string   `json:"sweep,omitempty"`
	FlaggedOnly bool     `json:"flagged_only,omitempty"`
	FlagIDs     []string `json:"flags,omitempty"`
}

// BundleItems returns the captures sel names, each with its flag and the
// flag's reviews, in the order they were fetched (for a sweep) or named
// (for flags). ErrNotFound names an unknown sweep or flag; ErrInvalid a
// selection of neither or both.
func (c *Catalog) BundleItems(ctx context.Context, sel BundleSelection) ([]BundleItem, error) {
	switch {
	case (sel.SweepID == "") == (len(sel.FlagIDs) == 0):
		return nil, fmt.Errorf("selecting captures: give a sweep or flags, not both or neither: %w", ErrInvalid)
	case sel.SweepID != "":
		return c.sweepBundleItems(ctx, sel.SweepID, sel.FlaggedOnly)
	}
	items := make([]BundleItem, 0, len(sel.FlagIDs))
	for _, id := range sel.FlagIDs {
		f, err := c.GetFlag(ctx, id)
		if err != nil {
			return nil, err
		}
		rec, err := c.GetCapture(ctx, f.CaptureID)
		if err != nil {
			return nil, fmt.Errorf("flag %s: %w", id, err)
		}
		items = append(items, BundleItem{Capture: rec, Flag: &f})
	}
	return items, nil
}

// flagPage is how many flags sweepBundleItems reads at a time, the most
// ListFlags returns.
const flagPage = 1000

func (c *Catalog) sweepBundleItems(ctx context.Context, sweepID string, flaggedOnly bool) ([]BundleItem, error) {
	if _, err := c.GetSweep(ctx, sweepID); err != nil {
		return nil, err
	}
	caps, err := c.ListCaptures(ctx, sweepID)
	if err != nil {
		return nil, err
	}
	flagOf := map[string]string{} // capture ID → flag ID
	for offset := 0; ; {
		page, err := c.ListFlags(ctx, FlagFilter{SweepID: sweepID, Limit: flagPage, Offset: offset})
		if err != nil {
			return nil, err
		}
		for _, f := range page {
			flagOf[f.CaptureID] = f.ID
		}
		if len(page) < flagPage {
			break
		}
		offset += len(page)
	}
	items := make([]BundleItem, 0, len(caps))
	for _, rec := range caps {
		var flag *wildwatch.Flag
		if id, ok := flagOf[rec.Capture.ID]; ok {
			f, err := c.GetFlag(ctx, id)
			if err != nil {
				return nil, err
			}
			flag = &f
		} else if flaggedOnly {
			continue
		}
		items = append(items, BundleItem{Capture: rec, Flag: flag})
	}
	return items, nil
}
