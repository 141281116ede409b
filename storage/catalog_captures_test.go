package storage

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// testCatalogCaptureListings stores several captures of some URLs, across
// sweeps: EachCaptureListing yields the newest of each URL once, in URL
// order, whatever its page size, lets fn use the catalog and stops at fn's
// error.
func testCatalogCaptureListings(t *testing.T, s catalogSuite) {
	// fn calls the catalog; a read that held the connection would wait for
	// itself until this deadline.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	catSweep(t, c, "s2", "market", time.Hour)

	if err := c.EachCaptureListing(ctx, func(rec CaptureRecord) error {
		return fmt.Errorf("called with %s on an empty catalog", rec.Capture.ID)
	}); err != nil {
		t.Fatal(err)
	}

	// at puts a capture of item page u, fetched at catTime+offset.
	var stored []CaptureRecord
	at := func(sweep, id, u string, offset time.Duration) CaptureRecord {
		rec := catCapture(sweep, id, catTime.Add(offset))
		rec.Capture.URL = "https://market.example/item/" + u
		rec.Listing.URL, rec.Listing.Title = rec.Capture.URL, "listing of "+id
		rec.Capture.Body, rec.Capture.Text = nil, ""
		stored = append(stored, rec)
		return rec
	}
	var (
		_  = at("s1", "a-old", "a", 0)
		a  = at("s2", "a-new", "a", 2*time.Hour) // newest, though put before the middle one
		_  = at("s1", "a-mid", "a", time.Hour)
		b  = at("s1", "b-only", "b", 3*time.Hour)
		_  = at("s1", "c-1", "c", time.Minute) // fetched at the same time: the higher ID wins
		c2 = at("s2", "c-2", "c", time.Minute)
		d  = at("s2", "d-only", "d", 0)
		_  = at("s1", "e-old", "e", 0)
		e  = at("s1", "e-new", "e", time.Second)
	)
	for _, rec := range stored {
		if added, err := c.PutCapture(ctx, rec); err != nil || !added {
			t.Fatalf("PutCapture(%s) = %v, %v", rec.Capture.ID, added, err)
		}
	}
	want := []CaptureRecord{a, b, c2, d, e}

	for _, size := range []int{0, 1, 2, 3, 5, 6} {
		c.pageSize = size
		var got []CaptureRecord
		err := c.EachCaptureListing(ctx, func(rec CaptureRecord) error {
			// The catalog answers while a listing is being handled.
			if _, err := c.GetCapture(ctx, rec.Capture.ID); err != nil {
				return fmt.Errorf("GetCapture inside fn: %w", err)
			}
			got = append(got, rec)
			return nil
		})
		if err != nil {
			t.Fatalf("EachCaptureListing (page size %d): %v", size, err)
		}
		catSame(t, fmt.Sprintf("EachCaptureListing (page size %d)", size), got, want)
	}

	errStop := errors.New("enough")
	for _, size := range []int{0, 1, 2} {
		c.pageSize = size
		var ids []string
		err := c.EachCaptureListing(ctx, func(rec CaptureRecord) error {
			ids = append(ids, rec.Capture.ID)
			if len(ids) == 3 {
				return errStop
			}
			return nil
		})
		if !errors.Is(err, errStop) {
			t.Errorf("EachCaptureListing (page size %d) returned %v, want fn's error", size, err)
		}
		catSame(t, fmt.Sprintf("listings handled before fn's error (page size %d)", size), ids, []string{"a-new", "b-only", "c-2"})
	}
}
