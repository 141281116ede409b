package api_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch/rules"
	"github.com/wildwatch/wildwatch/storage"
)

// admRules returns the default rule pack named name, with the flag
// threshold lowered to flag when flag is not "" (so that it flags listings
// the pack only sends to review).
func admRules(name, flag string) string {
	src := strings.Replace(string(rules.DefaultYAML()), "name: default\n", "name: "+name+"\n", 1)
	if flag != "" {
		src = strings.Replace(src, "thresholds: {flag: 1.0, review: 0.5}", "thresholds: {flag: "+flag+", review: 0.3}", 1)
	}
	return src
}

// backtestNow runs the backtest the console runs, in the test.
func backtestNow(t *testing.T, st *consoleStack, name string, version int, src string) rules.BacktestReport {
	t.Helper()
	ctx := context.Background()
	act, err := st.Catalog.ActiveRuleSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old, err := rules.CompileVersion(act.Name, act.Version, act.Source)
	if err != nil {
		t.Fatal(err)
	}
	cand, err := rules.CompileVersion(name, version, []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	bt := rules.NewBacktester(old, cand)
	if err := st.Catalog.EachCaptureListing(ctx, func(rec storage.CaptureRecord) error { bt.Add(rec.Listing); return nil }); err != nil {
		t.Fatal(err)
	}
	return bt.Report()
}

func TestConsoleAdminRules(t *testing.T) {
	st := stack(t)
	ctx := context.Background()
	s := adminSession(t, st)
	active, err := st.Catalog.ActiveRuleSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Others flag with the active set: it is the one active again when
	// this test ends, whatever happens in it.
	t.Cleanup(func() {
		if err := st.Catalog.ActivateRuleSet(context.Background(), active.Name, active.Version); err != nil {
			t.Errorf("restoring the active rule set: %v", err)
		}
	})
	const name = "adm-rules"
	versions := func() []storage.RuleSetVersion {
		vs, err := st.Catalog.ListRuleSets(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	n0 := len(versions())

	// A document with an unknown key: refused at its line, kept, nothing
	// stored.
	same := admRules(name, "")
	at := lineOf(t, same, "thresholds:")
	lines := strings.Split(same, "\n")
	lines = append(lines[:at], append([]string{"bogus_key: 1"}, lines[at:]...)...)
	bad := strings.Join(lines, "\n")
	code, body, _ := s.post("/admin/rules/"+name, url.Values{"source": {bad}})
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("saving a bad rule set = %d", code)
	}
	if m := badLine.FindStringSubmatch(body); m == nil || m[1] != fmt.Sprint(at+1) || !strings.Contains(m[2], "bogus_key") {
		t.Errorf("the error is not shown at line %d: %q", at+1, m)
	}
	if editorText(t, body) != bad {
		t.Error("the typed document was not kept")
	}
	if len(versions()) != n0 {
		t.Fatal("a rule set with an error was stored")
	}

	// Two good versions: the pack as it is, and one that flags more. Saving
	// activates neither.
	save := func(src, note string) int {
		t.Helper()
		code, _, loc := s.post("/admin/rules/"+name, url.Values{"source": {src}, "note": {note}})
		if code != http.StatusSeeOther {
			t.Fatalf("saving = %d", code)
		}
		_, page := s.follow(loc)
		var v storage.RuleSetVersion
		for _, x := range versions() {
			if x.Version > v.Version {
				v = x
			}
		}
		if v.Active || v.Note != note || !strings.Contains(page, fmt.Sprintf("Saved as version %d;", v.Version)) {
			t.Errorf("after saving: %+v", v)
		}
		if a, _ := st.Catalog.ActiveRuleSet(ctx); a.Name != active.Name || a.Version != active.Version {
			t.Fatalf("saving activated %s@%d", a.Name, a.Version)
		}
		return v.Version
	}
	// Saving the same text twice adds no version.
	plain := save(same, "the default pack")
	if code, _, _ := s.post("/admin/rules/"+name, url.Values{"source": {same}}); code != http.StatusSeeOther || len(versions()) != n0+1 {
		t.Errorf("saving the same text again made a version")
	}
	lowSrc := admRules(name, "0.5")
	low := save(lowSrc, "flag at 0.5")
	if len(versions()) != n0+2 {
		t.Fatalf("versions: %d, want %d", len(versions()), n0+2)
	}

	// The list and the editor show the versions, the active one marked.
	body = s.mustGet("/admin/rules")
	for _, v := range append(versions(), active) {
		if !strings.Contains(body, fmt.Sprintf(`href="/admin/rules/%s?version=%d"`, v.Name, v.Version)) {
			t.Errorf("the list lacks %s@%d", v.Name, v.Version)
		}
	}
	if !strings.Contains(body, fmt.Sprintf(`<tr class="admin-active">
      <td><a href="/admin/rules/%s?version=%d">`, active.Name, active.Version)) {
		t.Errorf("the active version %s@%d is not marked", active.Name, active.Version)
	}
	body = s.mustGet("/admin/rules/" + name)
	if editorText(t, body) != lowSrc {
		t.Error("the editor does not hold the newest version")
	}

	// Backtest: the page's numbers are the backtest's.
	want := backtestNow(t, st, name, low, lowSrc)
	started := time.Now()
	body = s.mustGet(fmt.Sprintf("/admin/rules/%s/backtest?version=%d", name, low))
	t.Logf("backtest page over %d listings: %s", want.Listings, time.Since(started).Round(time.Millisecond))
	again := backtestNow(t, st, name, low, lowSrc)
	added := 0
	for _, c := range want.Categories {
		added += c.Added
	}
	if added == 0 {
		t.Fatalf("a flag threshold of 0.5 adds no flag over %d listings: the test shows nothing", want.Listings)
	}
	if reflect.DeepEqual(want, again) { // no sweep stored listings meanwhile
		if !strings.Contains(body, fmt.Sprintf("over %d stored listings", want.Listings)) {
			t.Errorf("the page does not say %d listings", want.Listings)
		}
		for _, c := range want.Categories {
			if c.Added > 0 && !strings.Contains(body, fmt.Sprintf(`<td>%s</td><td class="num">%d</td>
    <td class="num"><span class="diff-add">+%d</span>`, c.Category, c.Flagged, c.Added)) {
				t.Errorf("category %s: +%d not shown", c.Category, c.Added)
			}
		}
		for _, x := range want.Added {
			if !strings.Contains(body, html.EscapeString(x.Title)) {
				t.Errorf("added example %q not shown", x.Title)
			}
		}
	} else {
		t.Log("listings were stored during the backtest; checking only that flags are added")
	}
	if !strings.Contains(body, "Flags added (") || strings.Contains(body, "Flags added (0 shown)") {
		t.Error("the backtest shows no added flags")
	}

	// The diff between the two versions.
	body = s.mustGet(fmt.Sprintf("/admin/rules/%s/diff?from=%d&to=%d", name, plain, low))
	a, _ := rules.Parse("a", []byte(same))
	b, _ := rules.Parse("b", []byte(lowSrc))
	changes := rules.Diff(a, b)
	if len(changes) == 0 {
		t.Fatal("the versions do not differ")
	}
	for _, c := range changes {
		if !strings.Contains(body, html.EscapeString(c.Path)) || !strings.Contains(body, html.EscapeString(c.New)) {
			t.Errorf("change %+v not shown", c)
		}
	}

	// Precision per rule, from the catalog's review counts of the active set.
	stats, err := st.Catalog.RuleStats(ctx, storage.RuleStatFilter{RuleSet: active.Name})
	if err != nil {
		t.Fatal(err)
	}
	body = s.mustGet("/admin/rules/" + active.Name)
	for _, r := range stats {
		if r.Term == "" && !strings.Contains(body, `<span class="mono small">`+html.EscapeString(r.Rule)+`</span>`) {
			t.Errorf("rule %s has no row", r.Rule)
		}
	}

	// Activation: the version the admin activates is the active one.
	code, _, _ = s.post("/admin/rules/"+name+"/activate", url.Values{"version": {fmt.Sprint(plain)}})
	if code != http.StatusSeeOther {
		t.Fatalf("activate = %d", code)
	}
	now, err := st.Catalog.ActiveRuleSet(ctx)
	if restore := st.Catalog.ActivateRuleSet(ctx, active.Name, active.Version); restore != nil {
		t.Fatal(restore)
	}
	if err != nil || now.Name != name || now.Version != plain {
		t.Errorf("after activating %s@%d the active set is %s@%d (%v)", name, plain, now.Name, now.Version, err)
	}
	if code, _, _ := s.post("/admin/rules/"+name+"/activate", url.Values{"version": {"999"}}); code != http.StatusNotFound {
		t.Errorf("activating an unknown version = %d, want 404", code)
	}
}

func TestConsoleAdminNewRuleSet(t *testing.T) {
	st := stack(t)
	s := adminSession(t, st)
	const name = "adm-new-set"
	if code, _ := s.get("/admin/rules?new=Not+A+Name"); code != http.StatusSeeOther {
		t.Errorf("a bad name = %d, want a redirect back with a message", code)
	} else if _, page := s.get("/admin/rules"); !strings.Contains(page, "cannot name a rule set") {
		t.Error("a bad name is not explained")
	}
	code, _ := s.get("/admin/rules?new=" + name)
	if code != http.StatusSeeOther {
		t.Fatalf("new rule set = %d", code)
	}
	page := s.mustGet("/admin/rules/" + name)
	src := editorText(t, page)
	if !strings.Contains(src, "name: "+name+"\n") || !strings.Contains(page, "not saved yet") {
		t.Fatalf("the new set's editor does not start from the active set under its name:\n%.300s", src)
	}
	if vs, err := st.Catalog.ListRuleSets(t.Context(), name); err != nil || len(vs) != 0 {
		t.Fatalf("opening the editor stored %d versions (%v)", len(vs), err)
	}
	if code, _, _ := s.post("/admin/rules/"+name, url.Values{"source": {src}, "note": {"a copy"}}); code != http.StatusSeeOther {
		t.Fatalf("saving the new set = %d", code)
	}
	vs, err := st.Catalog.ListRuleSets(t.Context(), name)
	if err != nil || len(vs) != 1 || vs[0].Version != 1 || vs[0].Active {
		t.Fatalf("after saving: %+v, %v; want version 1, not active", vs, err)
	}
}
