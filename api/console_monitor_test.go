package api_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/demosite"
	"github.com/wildwatch/wildwatch/storage"
)

// The monitor pages' tests change only targets and sweeps of their own:
// targets named monitor-*, and sweeps of them.

// applyDemoCopy applies the demo target under name, its requests per
// second set to rps ("-1" lifts the limit, as the stack's demo target
// has it).
func applyDemoCopy(t *testing.T, st *consoleStack, name, rps string) wildwatch.Target {
	t.Helper()
	src := string(demosite.TargetYAML(st.Demo))
	src = strings.Replace(src, "\nname: demo\n", "\nname: "+name+"\n", 1)
	src = strings.Replace(src, "requests_per_second: 20", "requests_per_second: "+rps, 1)
	tg, err := crawler.ParseTarget(name+".yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if tg.Name != name {
		t.Fatalf("the demo target copy is named %q, want %q", tg.Name, name)
	}
	if err := st.Catalog.PutTarget(t.Context(), tg, []byte(src)); err != nil {
		t.Fatal(err)
	}
	return tg
}

// fakeSweep records a sweep of target straight in the catalog, with no
// task: the worker never runs it.
func fakeSweep(t *testing.T, st *consoleStack, sw wildwatch.Sweep) wildwatch.Sweep {
	t.Helper()
	tg, _, err := st.Catalog.GetTarget(t.Context(), sw.Target)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Catalog.CreateSweep(t.Context(), sw, tg); err != nil {
		t.Fatal(err)
	}
	return sw
}

func sweepStatus(t *testing.T, st *consoleStack, id string) string {
	t.Helper()
	sw, err := st.Catalog.GetSweep(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	return sw.Status
}

// section returns the element with id, from its opening tag to the
// closing tag named close that follows.
func section(t *testing.T, body, tag, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<` + tag + `[^>]*id="` + regexp.QuoteMeta(id) + `".*?</` + tag + `>`).FindString(body)
	if m == "" {
		t.Fatalf("no <%s id=%q> in the page", tag, id)
	}
	return m
}

func TestConsoleMonitorDashboard(t *testing.T) {
	st := stack(t)
	ctx := t.Context()
	s := st.signIn(t, "monitor")
	before, err := st.Catalog.CountFlagsByStatus(ctx, wildwatch.FlagNew)
	if err != nil {
		t.Fatal(err)
	}
	spans, err := st.Catalog.FinishedSweeps(ctx, 20)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	body := s.mustGet("/")
	after, err := st.Catalog.CountFlagsByStatus(ctx, wildwatch.FlagNew)
	if err != nil {
		t.Fatal(err)
	}

	// The demo target with its platform and its last sweep.
	demo, err := st.Catalog.LatestSweep(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile(`(?s)<tr data-target="demo">.*?</tr>`).FindString(body)
	if row == "" {
		t.Fatalf("no row for the demo target:\n%s", body)
	}
	for _, want := range []string{"demo-market", `href="/sweeps/` + demo.ID + `"`, `class="badge ` + demo.Status + `"`,
		fmt.Sprintf("%d listings, %d captures, %d flags", demo.Counts.Listings, demo.Counts.Captures, demo.Counts.Flags),
		`action="/sweeps/start"`, `name="target" value="demo"`} {
		if !strings.Contains(row, want) {
			t.Errorf("the demo target's row lacks %q:\n%s", want, row)
		}
	}
	for kind, n := range demo.Counts.ErrorsByKind {
		if !strings.Contains(row, fmt.Sprintf(`<span class="badge bad">%s</span> %d`, kind, n)) {
			t.Errorf("the demo target's health lacks %d %s errors:\n%s", n, kind, row)
		}
	}

	// The count of new flags, linking to them.
	m := regexp.MustCompile(`href="/flags\?status=new">(\d+) new flags`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no count of new flags linking to /flags?status=new")
	}
	if n, _ := strconv.Atoi(m[1]); n < min(before, after) || n > max(before, after) {
		t.Errorf("the dashboard counts %d new flags, the catalog %d to %d", n, before, after)
	}

	// The charts draw what the catalog holds.
	first := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -29)
	perDay, err := st.Catalog.FlagsPerDay(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if len(perDay) == 0 {
		t.Fatal("the demo sweep raised no flags to chart")
	}
	flags := section(t, body, "figure", "chart-flags")
	if !strings.Contains(flags, `<title id="chart-flags-t">`) || !strings.Contains(flags, "<desc") {
		t.Error("the flags chart has no SVG title and description")
	}
	for _, d := range perDay {
		// A bar's tooltip: day · category: count (other tests may add
		// flags of their own, so at least the count seen before).
		re := regexp.MustCompile(regexp.QuoteMeta(d.Day.Format("01-02")+" · "+html.EscapeString(d.Category)+": ") + `(\d+)</title>`)
		m := re.FindStringSubmatch(flags)
		if m == nil {
			t.Errorf("the flags chart has no bar for %s on %s", d.Category, d.Day.Format("01-02"))
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n < d.Count {
			t.Errorf("the flags chart draws %d %s flags on %s, the catalog has %d", n, d.Category, d.Day.Format("01-02"), d.Count)
		}
	}
	// The newest finished sweeps (a sweep other tests finish meanwhile may
	// push the oldest out of the chart's twenty).
	durations := section(t, body, "figure", "chart-durations")
	for _, sp := range spans[:min(len(spans), 15)] {
		if !strings.Contains(durations, sp.FinishedAt.UTC().Format("01-02 15:04")+" · "+sp.Target+": ") {
			t.Errorf("the durations chart has no bar for sweep %s of %s", sp.ID, sp.Target)
		}
	}
	errs := section(t, body, "figure", "chart-errors")
	kinds, err := st.Catalog.ErrorsPerTarget(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range kinds {
		if k.Target != "demo" {
			continue
		}
		if !strings.Contains(errs, "demo-market · "+k.Kind+": ") {
			t.Errorf("the errors chart has no %s bar for demo-market", k.Kind)
		}
	}

	// The live sweeps come as a fragment, without the layout.
	code, frag := s.get("/?fragment=live")
	if code != http.StatusOK || strings.Contains(frag, "<html") {
		t.Errorf("live fragment = %d\n%s", code, frag)
	}

	// Signed out: to the sign-in page.
	if code, _ := st.newSession(t).get("/"); code != http.StatusSeeOther {
		t.Errorf("GET / signed out = %d, want 303", code)
	}
}

func TestConsoleMonitorSweeps(t *testing.T) {
	st := stack(t)
	ctx := t.Context()
	s := st.signIn(t, "monitor")
	applyDemoCopy(t, st, "monitor-paging", "1")
	// 55 sweeps ended long ago (none among the dashboard's recent ones),
	// and 60 errors on the newest, from before the charts' window.
	base := time.Now().UTC().Add(-60 * 24 * time.Hour).Truncate(time.Second)
	var ids []string
	for i := range 55 {
		created := base.Add(time.Duration(i) * time.Minute)
		end := created.Add(30 * time.Second)
		sw := fakeSweep(t, st, wildwatch.Sweep{ID: fmt.Sprintf("monitor-paging-%02d", i), Target: "monitor-paging",
			Status: wildwatch.SweepCancelled, CreatedAt: created, FinishedAt: &end})
		ids = append(ids, sw.ID)
	}
	newest := ids[len(ids)-1]
	for i := range 60 {
		if err := st.Catalog.AddSweepError(ctx, wildwatch.SweepError{SweepID: newest, URL: fmt.Sprintf("%s/item/e%02d", st.Demo, i),
			Kind: wildwatch.ErrKindHTTP, Message: fmt.Sprintf("status %d", 500+i), At: base.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}

	{ // list
		body := s.mustGet("/sweeps?target=monitor-paging")
		rows := regexp.MustCompile(`<tr data-sweep="([^"]+)">`).FindAllStringSubmatch(body, -1)
		if len(rows) != 50 || rows[0][1] != newest || rows[49][1] != ids[5] {
			t.Fatalf("page 1 lists %d sweeps, want 50 from %s", len(rows), newest)
		}
		if !strings.Contains(body, "55 sweeps") || !strings.Contains(body, `rel="next"`) {
			t.Error("page 1 shows no total or no link to page 2")
		}
		body = s.mustGet("/sweeps?target=monitor-paging&page=2")
		rows = regexp.MustCompile(`<tr data-sweep="([^"]+)">`).FindAllStringSubmatch(body, -1)
		if len(rows) != 5 || rows[4][1] != ids[0] || strings.Contains(body, `rel="next"`) || !strings.Contains(body, `rel="prev"`) {
			t.Errorf("page 2 lists %d sweeps, want the oldest 5", len(rows))
		}
	}
	{ // filters
		body := s.mustGet("/sweeps?status=finished&target=demo")
		if !strings.Contains(body, `data-sweep="`+st.SweepID+`"`) {
			t.Error("the finished sweeps of demo lack the demo sweep")
		}
		body = s.mustGet("/sweeps?status=running&target=monitor-paging")
		if strings.Contains(body, `<tr data-sweep=`) {
			t.Error("running sweeps of monitor-paging listed, there are none")
		}
		if code, _ := s.get("/sweeps?status=bogus"); code != http.StatusBadRequest {
			t.Errorf("unknown status = %d, want 400", code)
		}
	}
	{ // sweep
		sw, err := st.Catalog.GetSweep(ctx, st.SweepID)
		if err != nil {
			t.Fatal(err)
		}
		body := s.mustGet("/sweeps/" + sw.ID)
		for _, want := range []string{
			fmt.Sprintf(`data-count="captures">%d<`, sw.Counts.Captures),
			fmt.Sprintf(`data-count="listings">%d<`, sw.Counts.Listings),
			fmt.Sprintf(`<a href="/flags?sweep=%s">%d</a>`, sw.ID, sw.Counts.Flags),
			fmt.Sprintf("Errors (%d)", sw.Counts.Errors),
			`class="badge finished"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("the demo sweep's page lacks %q", want)
			}
		}
		if strings.Contains(body, "data-poll") {
			t.Error("a finished sweep's page still polls")
		}
		// Errors, newest first, 50 a page.
		body = s.mustGet("/sweeps/" + newest)
		if !strings.Contains(body, "Errors (60)") || strings.Count(body, `<span class="badge bad">http</span>`) < 50 ||
			!strings.Contains(body, "/item/e59") || strings.Contains(body, "/item/e09<") {
			t.Error("page 1 of the errors is not the newest 50")
		}
		body = s.mustGet("/sweeps/" + newest + "?page=2")
		if !strings.Contains(body, "/item/e09") || strings.Contains(body, "/item/e10") || !strings.Contains(body, `rel="prev"`) {
			t.Error("page 2 of the errors is not the oldest 10")
		}
		// The live part stops polling once the sweep has ended.
		req, _ := http.NewRequest(http.MethodGet, st.URL+"/sweeps/"+sw.ID+"?fragment=live", nil)
		req.Header.Set("X-Requested-With", "fetch")
		res, err := s.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Header.Get("X-Poll-Stop") == "" {
			t.Errorf("live part of an ended sweep = %d, X-Poll-Stop %q", res.StatusCode, res.Header.Get("X-Poll-Stop"))
		}
		if code, _ := s.get("/sweeps/no-such-sweep"); code != http.StatusNotFound {
			t.Errorf("unknown sweep = %d, want 404", code)
		}
	}
	{ // signed out
		for _, p := range []string{"/sweeps", "/sweeps/" + st.SweepID} {
			if code, _ := st.newSession(t).get(p); code != http.StatusSeeOther {
				t.Errorf("GET %s signed out = %d, want 303", p, code)
			}
		}
	}
}

func TestConsoleMonitorControls(t *testing.T) {
	st := stack(t)
	s := st.signIn(t, "monitor")
	applyDemoCopy(t, st, "monitor-controls", "1")
	now := time.Now().UTC()
	sw := fakeSweep(t, st, wildwatch.Sweep{ID: "monitor-controls-1", Target: "monitor-controls", Status: wildwatch.SweepRunning, CreatedAt: now})

	// The dashboard's targets table comes alone too, for its live refresh:
	// the target's row says its sweep is running and cannot start another.
	targets := s.mustGet("/?fragment=targets")
	row := regexp.MustCompile(`(?s)<tr data-target="monitor-controls">.*?</tr>`).FindString(targets)
	if strings.Contains(targets, "<html") || !strings.Contains(row, `href="/sweeps/`+sw.ID+`"`) || !strings.Contains(row, "disabled") {
		t.Errorf("the targets fragment does not show the running sweep of monitor-controls:\n%s", row)
	}

	// The dashboard shows the running sweep with its controls.
	live := s.mustGet("/?fragment=live")
	card := regexp.MustCompile(`(?s)<article class="card mon-sweep" data-sweep="` + sw.ID + `".*?</article>`).FindString(live)
	if !strings.Contains(card, `action="/sweeps/`+sw.ID+`/pause"`) || !strings.Contains(card, `action="/sweeps/`+sw.ID+`/cancel"`) ||
		!strings.Contains(card, "data-confirm=") {
		t.Fatalf("the running sweep has no pause and cancel (with a question) on the dashboard:\n%s", card)
	}

	// Without the CSRF token nothing happens; signed out neither.
	if code, _, _ := s.post("/sweeps/"+sw.ID+"/pause", url.Values{"csrf": {"forged"}}); code != http.StatusForbidden {
		t.Errorf("pause with a forged token = %d, want 403", code)
	}
	if code, _, _ := st.newSession(t).post("/sweeps/"+sw.ID+"/pause", url.Values{"csrf": {"x"}}); code != http.StatusUnauthorized {
		t.Errorf("pause signed out = %d, want 401", code)
	}
	if got := sweepStatus(t, st, sw.ID); got != wildwatch.SweepRunning {
		t.Fatalf("after refused pauses the sweep is %s", got)
	}

	code, _, loc := s.post("/sweeps/"+sw.ID+"/pause", url.Values{"next": {"/"}})
	if code != http.StatusSeeOther || loc != "/" {
		t.Fatalf("pause = %d %q, want 303 to /", code, loc)
	}
	if got := sweepStatus(t, st, sw.ID); got != wildwatch.SweepPaused {
		t.Fatalf("after pause the sweep is %s", got)
	}
	_, body := s.follow(loc)
	if !strings.Contains(body, "Sweep "+sw.ID+" paused.") {
		t.Error("no message after the pause")
	}
	card = regexp.MustCompile(`(?s)<article class="card mon-sweep" data-sweep="` + sw.ID + `".*?</article>`).FindString(body)
	if !strings.Contains(card, "paused by "+st.Users["monitor"]) || !strings.Contains(card, `/resume"`) {
		t.Errorf("the paused sweep shows no reason or no resume:\n%s", card)
	}
	// Pausing again is refused with a message, not an error page.
	code, _, loc = s.post("/sweeps/"+sw.ID+"/pause", nil)
	if _, body := s.follow(loc); code != http.StatusSeeOther || loc != "/sweeps/"+sw.ID || !strings.Contains(body, "cannot be paused") {
		t.Errorf("second pause = %d %q", code, loc)
	}

	// Resume: with no task left the sweep ends at once.
	if code, _, _ := s.post("/sweeps/"+sw.ID+"/resume", url.Values{"csrf": {"stale"}}); code != http.StatusForbidden {
		t.Errorf("resume with a wrong token = %d, want 403", code)
	}
	if got := sweepStatus(t, st, sw.ID); got != wildwatch.SweepPaused {
		t.Fatalf("after a refused resume the sweep is %s", got)
	}
	code, _, loc = s.post("/sweeps/"+sw.ID+"/resume", nil)
	if got := sweepStatus(t, st, sw.ID); code != http.StatusSeeOther || got == wildwatch.SweepPaused {
		t.Fatalf("resume = %d %q, sweep %s", code, loc, got)
	}
	if _, body := s.follow(loc); !strings.Contains(body, "Sweep "+sw.ID+" resumed.") {
		t.Error("no message after the resume")
	}

	// Cancel another running sweep.
	sw2 := fakeSweep(t, st, wildwatch.Sweep{ID: "monitor-controls-2", Target: "monitor-controls", Status: wildwatch.SweepRunning, CreatedAt: now.Add(time.Second)})
	if code, _, _ := s.post("/sweeps/"+sw2.ID+"/cancel", url.Values{"csrf": {"forged"}}); code != http.StatusForbidden {
		t.Errorf("cancel with a forged token = %d, want 403", code)
	}
	if got := sweepStatus(t, st, sw2.ID); got != wildwatch.SweepRunning {
		t.Fatalf("after a refused cancel the sweep is %s", got)
	}
	code, _, loc = s.post("/sweeps/"+sw2.ID+"/cancel", nil)
	if got := sweepStatus(t, st, sw2.ID); code != http.StatusSeeOther || got != wildwatch.SweepCancelled {
		t.Fatalf("cancel = %d, sweep %s", code, got)
	}
	_, body = s.follow(loc)
	if !strings.Contains(body, "Sweep "+sw2.ID+" cancelled.") || !strings.Contains(body, "cancelled by "+st.Users["monitor"]) {
		t.Error("the sweep page after the cancel shows no message or no reason")
	}
	if code, _, _ := s.post("/sweeps/no-such-sweep/cancel", nil); code != http.StatusNotFound {
		t.Errorf("cancel of an unknown sweep = %d, want 404", code)
	}
}

func TestConsoleMonitorStart(t *testing.T) {
	st := stack(t)
	ctx := t.Context()
	s := st.signIn(t, "monitor")
	// A slow copy of the demo target: its sweep is cancelled long before
	// it could finish.
	applyDemoCopy(t, st, "monitor-start", "1")
	count := func() int {
		_, total, err := st.Catalog.ListSweepPage(ctx, storage.SweepPage{Target: "monitor-start"})
		if err != nil {
			t.Fatal(err)
		}
		return total
	}

	if code, _, _ := s.post("/sweeps/start", url.Values{"target": {"monitor-start"}, "csrf": {"forged"}}); code != http.StatusForbidden {
		t.Errorf("start with a forged token = %d, want 403", code)
	}
	if code, _, _ := st.newSession(t).post("/sweeps/start", url.Values{"target": {"monitor-start"}, "csrf": {"x"}}); code != http.StatusUnauthorized {
		t.Errorf("start signed out = %d, want 401", code)
	}
	if n := count(); n != 0 {
		t.Fatalf("refused starts made %d sweeps", n)
	}
	code, _, loc := s.post("/sweeps/start", url.Values{"target": {"monitor-no-such-target"}, "next": {"/"}})
	if _, body := s.follow(loc); code != http.StatusSeeOther || !strings.Contains(body, "There is no target monitor-no-such-target.") {
		t.Errorf("start of an unknown target = %d %q", code, loc)
	}

	code, _, loc = s.post("/sweeps/start", url.Values{"target": {"monitor-start"}, "next": {"/"}})
	if code != http.StatusSeeOther || loc != "/" {
		t.Fatalf("start = %d %q", code, loc)
	}
	sw, err := st.Catalog.LatestSweep(ctx, "monitor-start")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = st.Client.CancelSweep(context.Background(), sw.ID, "test over") })
	_, body := s.follow(loc)
	if !strings.Contains(body, "Sweep "+sw.ID+" of monitor-start started.") || !strings.Contains(body, `data-sweep="`+sw.ID+`"`) {
		t.Error("the dashboard after the start shows no message or not the sweep")
	}
	if !strings.Contains(body, `data-poll="/?fragment=live"`) {
		t.Error("the dashboard does not follow the live sweep")
	}
	code, _, _ = s.post("/sweeps/"+sw.ID+"/cancel", nil)
	if got := sweepStatus(t, st, sw.ID); code != http.StatusSeeOther || got != wildwatch.SweepCancelled {
		t.Errorf("cancel of the started sweep = %d, sweep %s", code, got)
	}
}
