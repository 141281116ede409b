package storage

import (
	"fmt"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

func testCatalogMonitor(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)

	// Sweeps of two targets in three statuses, s0 oldest.
	for i := range 5 {
		target := "market"
		if i%2 == 1 {
			target = "bazaar"
		}
		sw := wildwatch.Sweep{ID: fmt.Sprintf("s%d", i), Target: target, CreatedAt: catTime.Add(time.Duration(i) * time.Hour)}
		if i < 3 {
			end := sw.CreatedAt.Add(time.Duration(i+1) * time.Minute)
			sw.Status, sw.FinishedAt = wildwatch.SweepFinished, &end
		}
		if i == 0 {
			sw.Status = wildwatch.SweepFailed
		}
		if err := c.CreateSweep(ctx, sw, catTarget(target)); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(ss []wildwatch.Sweep) []string {
		out := []string{}
		for _, s := range ss {
			out = append(out, s.ID)
		}
		return out
	}
	page, total, err := c.ListSweepPage(ctx, SweepPage{Limit: 2, Offset: 1})
	if err != nil || total != 5 {
		t.Fatalf("ListSweepPage = %v, %d, %v", page, total, err)
	}
	catSame(t, "ListSweepPage(limit 2, offset 1)", ids(page), []string{"s3", "s2"})
	page, total, err = c.ListSweepPage(ctx, SweepPage{Target: "market", Status: wildwatch.SweepFinished})
	if err != nil || total != 1 {
		t.Fatalf("ListSweepPage(market, finished) = %v, %d, %v", page, total, err)
	}
	catSame(t, "ListSweepPage(market, finished)", ids(page), []string{"s2"})
	if err := c.SetSweepStatus(ctx, "s3", wildwatch.SweepRunning); err != nil {
		t.Fatal(err)
	}
	page, total, err = c.ListSweepPage(ctx, SweepPage{Active: true})
	if err != nil || total != 2 {
		t.Fatalf("ListSweepPage(active) = %v, %d, %v", page, total, err)
	}
	catSame(t, "ListSweepPage(active)", ids(page), []string{"s4", "s3"})
	_, _, err = c.ListSweepPage(ctx, SweepPage{Offset: -1})
	catErr(t, "ListSweepPage(offset -1)", err, ErrInvalid)

	spans, err := c.FinishedSweeps(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, sp := range spans {
		got = append(got, fmt.Sprintf("%s %s %s", sp.ID, sp.Target, sp.Duration()))
	}
	catSame(t, "FinishedSweeps", got, []string{"s2 market 3m0s", "s1 bazaar 2m0s"})

	// Errors: three on s1 (bazaar), one on s2 (market), one long ago.
	errs := []wildwatch.SweepError{
		{SweepID: "s1", URL: "https://market.example/a", Kind: wildwatch.ErrKindHTTP, Message: "404", At: catTime.Add(time.Minute)},
		{SweepID: "s1", URL: "https://market.example/b", Kind: wildwatch.ErrKindHTTP, Message: "500", At: catTime.Add(2 * time.Minute)},
		{SweepID: "s1", URL: "https://market.example/c", Kind: wildwatch.ErrKindNetwork, Message: "refused", At: catTime.Add(3 * time.Minute)},
		{SweepID: "s2", URL: "https://market.example/d", Kind: wildwatch.ErrKindBlocked, Message: "captcha", At: catTime},
		{SweepID: "s2", URL: "https://market.example/e", Kind: wildwatch.ErrKindRobots, Message: "old", At: catTime.Add(-48 * time.Hour)},
	}
	for _, e := range errs {
		if err := c.AddSweepError(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	ep, total, err := c.SweepErrorPage(ctx, "s1", 2, 0)
	if err != nil || total != 3 {
		t.Fatalf("SweepErrorPage(s1) = %v, %d, %v", ep, total, err)
	}
	catSame(t, "SweepErrorPage(s1, first 2)", ep, []wildwatch.SweepError{errs[2], errs[1]})
	ep, _, err = c.SweepErrorPage(ctx, "s1", 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "SweepErrorPage(s1, from 2)", ep, []wildwatch.SweepError{errs[0]})
	kinds, err := c.ErrorsPerTarget(ctx, catTime.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "ErrorsPerTarget", kinds, []KindCount{
		{Target: "bazaar", Kind: wildwatch.ErrKindHTTP, Count: 2},
		{Target: "bazaar", Kind: wildwatch.ErrKindNetwork, Count: 1},
		{Target: "market", Kind: wildwatch.ErrKindBlocked, Count: 1},
	})

	// Progress: three tasks, two settled (one done, one failed).
	for i := range 3 {
		catAddTask(t, c, SweepTask{SweepID: "s4", Key: catTaskKey("listing", i), Kind: wildwatch.PageListing, URL: fmt.Sprintf("https://market.example/i/%d", i)})
	}
	catFinish(t, c, "s4", catTaskKey("listing", 0), false)
	catFinish(t, c, "s4", catTaskKey("listing", 1), true)
	p, err := c.SweepProgress(ctx, "s4")
	if err != nil || p != (TaskProgress{Settled: 2, Total: 3}) {
		t.Errorf("SweepProgress(s4) = %+v, %v; want 2 of 3", p, err)
	}
	if p, err := c.SweepProgress(ctx, "nope"); err != nil || p != (TaskProgress{}) {
		t.Errorf("SweepProgress(unknown) = %+v, %v", p, err)
	}

	// Flags on three days in two categories; one before the window.
	day := time.Date(catTime.Year(), catTime.Month(), catTime.Day(), 0, 0, 0, 0, time.UTC)
	seed := []struct {
		id, category string
		at           time.Time
	}{
		{"f1", "ivory", day.Add(time.Hour)},
		{"f2", "ivory", day.Add(23 * time.Hour)},
		{"f3", "pangolin", day.Add(2 * time.Hour)},
		{"f4", "pangolin", day.Add(49 * time.Hour)},
		{"f5", "ivory", day.Add(-time.Hour)},
	}
	for _, f := range seed {
		rec := catCapture("s2", "c-"+f.id, f.at)
		rec.Verdict.Category = f.category
		if _, err := c.PutCapture(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.PutFlag(ctx, catFlag(rec, f.at)); err != nil {
			t.Fatal(err)
		}
	}
	perDay, err := c.FlagsPerDay(ctx, day)
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "FlagsPerDay", perDay, []DayCount{
		{Day: day, Category: "ivory", Count: 2},
		{Day: day, Category: "pangolin", Count: 1},
		{Day: day.Add(48 * time.Hour), Category: "pangolin", Count: 1},
	})
	if n, err := c.CountFlagsByStatus(ctx, wildwatch.FlagNew); err != nil || n != 5 {
		t.Errorf("CountFlagsByStatus(new) = %d, %v; want 5", n, err)
	}
	if n, err := c.CountFlagsByStatus(ctx, wildwatch.FlagConfirmed); err != nil || n != 0 {
		t.Errorf("CountFlagsByStatus(confirmed) = %d, %v; want 0", n, err)
	}
}
