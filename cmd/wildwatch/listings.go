package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
)

func runListing(ctx context.Context, e *cmdEnv, args []string) error {
	return subcommand(ctx, e, "listing", args, map[string]func(context.Context, *cmdEnv, []string) error{
		"history": runListingHistory,
		"list":    runListingList,
	})
}

// runListingHistory prints a listing's captures over time: first seen,
// every capture since with how it compared with the one before, and its
// removal.
func runListingHistory(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "listing history", "listing history URL [--target NAME] | --target NAME --id LISTING_ID  [--json]")
	c := remoteFlags(fs, e)
	target := fs.String("target", "", "only the captures of this target")
	id := fs.String("id", "", "the listing's own ID (with --target) instead of its URL")
	asJSON := fs.Bool("json", false, "print the history as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	q := url.Values{}
	switch {
	case len(pos) == 1 && *id == "":
		q.Set("url", pos[0])
	case len(pos) == 0 && *id != "" && *target != "":
		q.Set("id", *id)
	default:
		return usageError{"want one listing URL, or --target and --id"}
	}
	if *target != "" {
		q.Set("target", *target)
	}
	h, err := c.ListingHistory(ctx, q)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(e, h)
	}
	printHistory(e.out, h)
	return nil
}

// printHistory writes a listing history for people: the listing's status
// per target, then one line per capture, oldest first.
func printHistory(w io.Writer, h api.ListingHistory) {
	fmt.Fprintln(w, h.URL)
	for _, l := range h.Listings {
		fmt.Fprintf(w, "  target %s: %s; first seen %s, last seen %s, last changed %s, %d captures",
			l.Target, l.State, stamp(l.FirstSeen), stamp(l.LastSeen), stamp(l.LastChanged), l.Captures)
		if l.RemovedAt != nil {
			fmt.Fprintf(w, "; removed %s (capture %s)", stamp(*l.RemovedAt), l.RemovedCapture)
		}
		if l.ListingID != "" {
			fmt.Fprintf(w, "; listing id %s", l.ListingID)
		}
		fmt.Fprintln(w)
	}
	for _, c := range h.Captures {
		change := c.Change
		if change == "" {
			change = "-"
		}
		fmt.Fprintf(w, "  %s  %-9s  %s  %d", stamp(c.FetchedAt), change, c.CaptureID, c.Status)
		switch {
		case c.Change == wildwatch.ChangeRemoved:
			fmt.Fprintf(w, "  %s", c.Removed)
		default:
			if c.Title != "" {
				fmt.Fprintf(w, "  %q", c.Title)
			}
			if c.Price != "" {
				fmt.Fprintf(w, " %s", strings.TrimSpace(c.Price+" "+c.Currency))
			}
			if c.Flagged {
				fmt.Fprintf(w, "  flagged %s %.2f", c.Category, c.Score)
			}
			if c.RefersTo != "" {
				fmt.Fprintf(w, "  (revisit of %s)", c.RefersTo)
			}
		}
		if c.Target != "" && len(h.Listings) > 1 {
			fmt.Fprintf(w, "  [%s]", c.Target)
		}
		fmt.Fprintln(w)
	}
}

// stamp writes a time in UTC to the second.
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// runListingList prints listings as JSON.
func runListingList(ctx context.Context, e *cmdEnv, args []string) error {
	fs := newFlagSet(e, "listing list", "listing list [--target T] [--state active|removed] [--url URL] [--id ID] [--after URL] [--limit N]")
	c := remoteFlags(fs, e)
	query := filterFlags(fs, "target", "state", "url", "id", "after", "limit")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	ls, err := c.Listings(ctx, query())
	if err != nil {
		return err
	}
	return printJSON(e, ls)
}
