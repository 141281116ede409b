package storage

import (
	"reflect"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

func testCatalogSweeps(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)

	tg := catTarget("market")
	if err := c.PutTarget(ctx, tg, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateSweep(ctx, wildwatch.Sweep{ID: "s1"}, tg); err != nil {
		t.Fatal(err)
	}
	got, err := c.GetSweep(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Target != "market" || got.Status != wildwatch.SweepQueued || got.FinishedAt != nil ||
		got.CreatedAt.IsZero() || got.CreatedAt.Location() != time.UTC || !reflect.DeepEqual(got.Counts, wildwatch.SweepCounts{}) {
		t.Errorf("GetSweep(new sweep with defaults) = %+v", got)
	}

	// The sweep keeps the target it was started with.
	edited := tg
	edited.Limits.MaxPages = 99
	if err := c.PutTarget(ctx, edited, nil); err != nil {
		t.Fatal(err)
	}
	snap, err := c.SweepTarget(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "SweepTarget after the target changed", snap, tg)

	// Creating it again changes nothing.
	if err := c.CreateSweep(ctx, wildwatch.Sweep{ID: "s1", Status: wildwatch.SweepRunning}, edited); err != nil {
		t.Errorf("CreateSweep again: %v", err)
	}
	again, err := c.GetSweep(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "sweep created twice", again, got)

	// Newest first, filtered, limited.
	catSweep(t, c, "a-old", "alpha", 1*time.Minute)
	catSweep(t, c, "b-mid", "beta", 2*time.Minute)
	catSweep(t, c, "a-new", "alpha", 3*time.Minute)
	finished := catTime.Add(time.Hour)
	err = c.CreateSweep(ctx, wildwatch.Sweep{ID: "a-done", Target: "alpha", Status: wildwatch.SweepFinished,
		CreatedAt: catTime, FinishedAt: &finished}, catTarget("alpha"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		f    SweepFilter
		want []string
	}{
		{"alpha", SweepFilter{Target: "alpha"}, []string{"a-new", "a-old", "a-done"}},
		{"alpha limit 2", SweepFilter{Target: "alpha", Limit: 2}, []string{"a-new", "a-old"}},
		{"beta", SweepFilter{Target: "beta"}, []string{"b-mid"}},
		{"unknown target", SweepFilter{Target: "gamma"}, nil},
		{"limit 3", SweepFilter{Limit: 3}, []string{"s1", "a-new", "b-mid"}}, // s1 was created now
	}
	for _, tc := range tests {
		ss, err := c.ListSweeps(ctx, tc.f)
		if err != nil {
			t.Fatalf("ListSweeps(%s): %v", tc.name, err)
		}
		var ids []string
		for _, s := range ss {
			ids = append(ids, s.ID)
		}
		catSame(t, "ListSweeps("+tc.name+")", ids, tc.want)
	}
	all, err := c.ListSweeps(ctx, SweepFilter{})
	if err != nil || len(all) != 5 {
		t.Fatalf("ListSweeps(all) = %d sweeps, %v; want 5", len(all), err)
	}
	done, err := c.GetSweep(ctx, "a-done")
	if err != nil {
		t.Fatal(err)
	}
	if done.FinishedAt == nil || !done.FinishedAt.Equal(finished) || !done.CreatedAt.Equal(catTime) {
		t.Errorf("GetSweep(a-done) times = %v, %v; want %v, %v", done.CreatedAt, done.FinishedAt, catTime, finished)
	}

	_, err = c.GetSweep(ctx, "nope")
	catErr(t, "GetSweep(unknown)", err, ErrNotFound)
	_, err = c.SweepTarget(ctx, "nope")
	catErr(t, "SweepTarget(unknown)", err, ErrNotFound)
	_, err = c.ListSweeps(ctx, SweepFilter{Limit: -1})
	catErr(t, "ListSweeps(negative limit)", err, ErrInvalid)
	for name, bad := range map[string]wildwatch.Sweep{
		"no id":        {Target: "market"},
		"other target": {ID: "x", Target: "alpha"},
		"bad status":   {ID: "x", Status: "stopped"},
	} {
		catErr(t, "CreateSweep("+name+")", c.CreateSweep(ctx, bad, tg), ErrInvalid)
	}
}

func testCatalogSweepStatus(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)

	steps := []struct {
		status       string
		wantFinished bool
	}{
		{wildwatch.SweepRunning, false},
		{wildwatch.SweepFailed, true},
		{wildwatch.SweepFinished, true}, // keeps the first FinishedAt
		{wildwatch.SweepQueued, false},
	}
	var firstFinish *time.Time
	for _, st := range steps {
		if err := c.SetSweepStatus(ctx, "s1", st.status); err != nil {
			t.Fatalf("SetSweepStatus(%s): %v", st.status, err)
		}
		got, err := c.GetSweep(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != st.status || (got.FinishedAt != nil) != st.wantFinished {
			t.Errorf("after SetSweepStatus(%s): status %s, finished at %v", st.status, got.Status, got.FinishedAt)
		}
		if got.FinishedAt != nil {
			if firstFinish == nil {
				firstFinish = got.FinishedAt
			} else if !got.FinishedAt.Equal(*firstFinish) {
				t.Errorf("FinishedAt moved from %v to %v", *firstFinish, *got.FinishedAt)
			}
		}
	}
	catErr(t, "SetSweepStatus(bad)", c.SetSweepStatus(ctx, "s1", "stopped"), ErrInvalid)
	catErr(t, "SetSweepStatus(unknown sweep)", c.SetSweepStatus(ctx, "nope", wildwatch.SweepRunning), ErrNotFound)
}

func testCatalogSweepErrors(t *testing.T, s catalogSuite) {
	ctx := t.Context()
	c := s.open(t)
	catSweep(t, c, "s1", "market", 0)
	catSweep(t, c, "s2", "market", time.Second)

	errs := []wildwatch.SweepError{
		{SweepID: "s1", URL: "https://market.example/b", Kind: wildwatch.ErrKindHTTP, Message: "404 Not Found", At: catTime.Add(2 * time.Second)},
		{SweepID: "s1", URL: "https://market.example/a", Kind: wildwatch.ErrKindRobots, Message: "disallowed", At: catTime},
		{SweepID: "s2", URL: "https://market.example/c", Kind: wildwatch.ErrKindNetwork, Message: "refused", At: catTime},
	}
	for _, e := range errs {
		if err := c.AddSweepError(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	got, err := c.SweepErrors(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	catSame(t, "SweepErrors(s1)", got, []wildwatch.SweepError{errs[1], errs[0]})

	if err := c.AddSweepError(ctx, wildwatch.SweepError{SweepID: "s2", Kind: wildwatch.ErrKindStorage, Message: "disk full"}); err != nil {
		t.Fatal(err)
	}
	got, err = c.SweepErrors(ctx, "s2")
	if err != nil || len(got) != 2 || got[1].At.IsZero() {
		t.Errorf("SweepErrors(s2) = %+v, %v; want 2, the second stamped now", got, err)
	}
	none, err := c.SweepErrors(ctx, "nope")
	if err != nil || len(none) != 0 {
		t.Errorf("SweepErrors(unknown) = %v, %v", none, err)
	}
	catErr(t, "AddSweepError(unknown sweep)", c.AddSweepError(ctx, wildwatch.SweepError{SweepID: "nope"}), ErrNotFound)
	catErr(t, "AddSweepError(no sweep)", c.AddSweepError(ctx, wildwatch.SweepError{}), ErrInvalid)
}
