package api_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/crawler"
	"github.com/wildwatch/wildwatch/storage"
)

// The admin pages' tests use targets, rule sets, users and tokens whose
// names start with "adm-", and read the demo target without changing it.

// adminGets are the admin pages a GET reaches.
var adminGets = []string{
	"/admin/targets", "/admin/targets/new", "/admin/targets/demo",
	"/admin/rules", "/admin/rules/default", "/admin/rules/default/diff?from=1&to=1",
	"/admin/rules/default/backtest?version=1", "/admin/users",
}

// adminPosts are the admin forms, with a form that would change something.
var adminPosts = []struct {
	path string
	form url.Values
}{
	{"/admin/targets/new", url.Values{"source": {"name: adm-csrf\nallowed_hosts: [example.org]\nstart_urls: [https://example.org/]\nselectors: {listing_links: a, fields: {title: h1}}\n"}}},
	{"/admin/targets/demo/schedule", url.Values{"kind": {"every"}, "every": {"6h"}}},
	{"/admin/targets/demo/probe", url.Values{"source": {"name: demo\n"}}},
	{"/admin/rules/adm-csrf", url.Values{"source": {"name: adm-csrf\n"}}},
	{"/admin/rules/default/activate", url.Values{"version": {"1"}}},
	{"/admin/users", url.Values{"name": {"adm-csrf"}, "role": {"admin"}, "password": {"long enough pass"}, "password2": {"long enough pass"}}},
	{"/admin/users/monitor-ana/role", url.Values{"role": {"admin"}}},
	{"/admin/users/monitor-ana/password", url.Values{"password": {"long enough pass"}, "password2": {"long enough pass"}}},
	{"/admin/users/monitor-ana/disable", nil},
	{"/admin/users/monitor-ana/enable", nil},
	{"/admin/users/monitor-ana/delete", nil},
	{"/admin/tokens", url.Values{"name": {"adm-csrf"}, "role": {"admin"}}},
	{"/admin/tokens/monitor-token/rotate", nil},
	{"/admin/tokens/monitor-token/delete", nil},
}

// adminSnapshot is what the admin forms could change, to show that a
// refused post changed nothing.
type adminSnapshot struct {
	Users   []storage.User
	Tokens  []storage.Token
	Rules   []storage.RuleSetVersion
	Targets []wildwatch.Target
	Active  string
}

func snapshotAdmin(t *testing.T, st *consoleStack) adminSnapshot {
	t.Helper()
	ctx := context.Background()
	var s adminSnapshot
	var err error
	if s.Users, err = st.Catalog.ListUsers(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Tokens, err = st.Catalog.ListTokens(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Rules, err = st.Catalog.ListRuleSets(ctx, ""); err != nil {
		t.Fatal(err)
	}
	if s.Targets, err = st.Catalog.ListTargets(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := st.Catalog.ActiveRuleSet(ctx); err == nil {
		s.Active = fmt.Sprintf("%s@%d", v.Name, v.Version)
	}
	// Only what the admin forms above touch: the adm-csrf names and the
	// stack's monitor user and token, the demo target, the active set.
	keep := func(name string) bool {
		return name == "adm-csrf" || name == "monitor-ana" || name == "monitor-token" || name == "demo"
	}
	s.Users = filter(s.Users, func(u storage.User) bool { return keep(u.Name) })
	s.Tokens = filter(s.Tokens, func(x storage.Token) bool { return keep(x.Name) })
	s.Rules = filter(s.Rules, func(v storage.RuleSetVersion) bool { return keep(v.Name) })
	s.Targets = filter(s.Targets, func(x wildwatch.Target) bool { return keep(x.Name) })
	return s
}

func filter[T any](xs []T, keep func(T) bool) []T {
	var out []T
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

func TestConsoleAdminRoles(t *testing.T) {
	st := stack(t)
	before := snapshotAdmin(t, st)
	out := st.newSession(t)
	for _, p := range adminGets {
		code, _ := out.get(p)
		if code != http.StatusSeeOther {
			t.Errorf("signed out: GET %s = %d, want 303", p, code)
		}
		res, err := out.c.Get(st.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/login") {
			t.Errorf("signed out: GET %s goes to %q, want /login", p, loc)
		}
	}
	for _, role := range []string{api.RoleMonitor, api.RoleInvestigator} {
		s := st.signIn(t, role)
		for _, p := range adminGets {
			if code, _ := s.get(p); code != http.StatusForbidden {
				t.Errorf("%s: GET %s = %d, want 403", role, p, code)
			}
		}
		for _, p := range adminPosts {
			if code, _, _ := s.post(p.path, cloneForm(p.form)); code != http.StatusForbidden {
				t.Errorf("%s: POST %s = %d, want 403", role, p.path, code)
			}
		}
	}
	if after := snapshotAdmin(t, st); !reflect.DeepEqual(before, after) {
		t.Errorf("refused posts changed the catalog:\nbefore %+v\nafter  %+v", before, after)
	}
}

// adminSession signs in as the stack's admin and loads an admin page, for
// its CSRF token.
func adminSession(t *testing.T, st *consoleStack) *session {
	t.Helper()
	s := st.signIn(t, api.RoleAdmin)
	s.mustGet("/admin/users")
	return s
}

func cloneForm(f url.Values) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func TestConsoleAdminCSRF(t *testing.T) {
	st := stack(t)
	before := snapshotAdmin(t, st)
	s := adminSession(t, st)
	for _, p := range adminPosts {
		for _, token := range []string{"", "not-the-token"} {
			f := cloneForm(p.form)
			f.Set("csrf", token)
			var code int
			if token == "" {
				code, _, _ = s.postRaw(p.path, f)
			} else {
				code, _, _ = s.post(p.path, f)
			}
			if code != http.StatusForbidden {
				t.Errorf("POST %s with csrf %q = %d, want 403", p.path, token, code)
			}
		}
	}
	if after := snapshotAdmin(t, st); !reflect.DeepEqual(before, after) {
		t.Errorf("posts without the CSRF token changed the catalog:\nbefore %+v\nafter  %+v", before, after)
	}
}

// lineOf returns the 1-based line of the first line of src that starts
// with prefix.
func lineOf(t *testing.T, src, prefix string) int {
	t.Helper()
	for i, l := range strings.Split(src, "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	t.Fatalf("no line starts with %q", prefix)
	return 0
}

var editorArea = regexp.MustCompile(`(?s)<textarea id="source"[^>]*>(.*?)</textarea>`)

// editorText returns the text in a page's YAML editor.
func editorText(t *testing.T, body string) string {
	t.Helper()
	m := editorArea.FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the page has no editor")
	}
	return html.UnescapeString(m[1])
}

// badLine matches the line an editor marks as the error's.
var badLine = regexp.MustCompile(`<span class="admin-line bad"><span class="admin-ln">(\d+)</span>([^\n]*)`)

func TestConsoleAdminTargets(t *testing.T) {
	st := stack(t)
	ctx := context.Background()
	s := adminSession(t, st)
	demo, demoSrc, err := st.Catalog.GetTarget(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}

	body := s.mustGet("/admin/targets")
	ts, err := st.Catalog.ListTargets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range ts {
		if !strings.Contains(body, `href="/admin/targets/`+tg.Name+`"`) {
			t.Errorf("the list lacks target %s", tg.Name)
		}
	}
	body = s.mustGet("/admin/targets/demo")
	if editorText(t, body) != string(demoSrc) {
		t.Error("the editor does not hold the stored document")
	}
	if !strings.Contains(body, `value="`+demo.StartURLs[0]+`"`) {
		t.Error("the selector test does not default to the first start URL")
	}
	if !strings.Contains(s.mustGet("/admin/targets/new"), `<textarea`) {
		t.Error("no editor for a new target")
	}

	// A copy of the demo target under a name of this test's, with an
	// unknown key in its selectors: refused at that key's line, the
	// typed text kept, nothing stored.
	src := strings.Replace(string(demoSrc), "name: demo\n", "name: adm-copy\n", 1)
	lines := strings.Split(src, "\n")
	at := lineOf(t, src, "  next_page:")
	lines = append(lines[:at], append([]string{"  next_pgae: a.next"}, lines[at:]...)...)
	bad := strings.Join(lines, "\n")
	code, body, _ := s.post("/admin/targets/new", url.Values{"source": {bad}})
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("saving a bad target = %d, want 422\n%s", code, body)
	}
	m := badLine.FindStringSubmatch(body)
	if m == nil || m[1] != fmt.Sprint(at+1) || !strings.Contains(m[2], "next_pgae") {
		t.Errorf("the error is not shown at line %d: %q", at+1, m)
	}
	if !strings.Contains(body, fmt.Sprintf("target.yaml:%d:", at+1)) {
		t.Errorf("the parser's file:line is not shown")
	}
	if editorText(t, body) != bad {
		t.Error("the typed document was not kept")
	}
	if _, _, err := st.Catalog.GetTarget(ctx, "adm-copy"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a target with an error was stored: %v", err)
	}

	// Fixed, it is stored as typed.
	code, _, loc := s.post("/admin/targets/new", url.Values{"source": {src}})
	if code != http.StatusSeeOther || loc != "/admin/targets/adm-copy" {
		t.Fatalf("saving the fixed target = %d %q", code, loc)
	}
	got, gotSrc, err := st.Catalog.GetTarget(ctx, "adm-copy")
	if err != nil || string(gotSrc) != src || got.Selectors != demo.Selectors {
		t.Fatalf("stored target: %v\n%s", err, gotSrc)
	}
	// Saving it under another name from its own page is refused.
	renamed := strings.Replace(src, "name: adm-copy\n", "name: adm-other\n", 1)
	if code, _, _ := s.post("/admin/targets/adm-copy", url.Values{"source": {renamed}}); code != http.StatusUnprocessableEntity {
		t.Errorf("renaming from the editor = %d, want 422", code)
	}
	// A new target may not replace a stored one.
	if code, _, _ := s.post("/admin/targets/new", url.Values{"source": {src}}); code != http.StatusUnprocessableEntity {
		t.Errorf("a new target over a stored one = %d, want 422", code)
	}

	// The schedule form edits the stored document like the API does.
	code, _, loc = s.post("/admin/targets/adm-copy/schedule", url.Values{"kind": {"every"}, "every": {"6h"}, "window": {"22:00-06:00"}, "tz": {"Europe/Berlin"}})
	if code != http.StatusSeeOther {
		t.Fatalf("schedule = %d", code)
	}
	_, flash := s.follow(loc)
	got, gotSrc, _ = st.Catalog.GetTarget(ctx, "adm-copy")
	want := &wildwatch.Schedule{Every: wildwatch.Interval(6 * time.Hour), Window: "22:00-06:00", TZ: "Europe/Berlin"}
	if !reflect.DeepEqual(got.Schedule, want) || !strings.Contains(string(gotSrc), "window: 22:00-06:00") {
		t.Errorf("schedule stored %+v\n%s", got.Schedule, gotSrc)
	}
	if !strings.Contains(flash, `value="22:00-06:00"`) || !strings.Contains(flash, "flash ok") {
		t.Error("the page after the schedule does not show it")
	}
	s.post("/admin/targets/adm-copy/schedule", url.Values{"kind": {"cron"}, "cron": {"not a cron"}})
	if got2, _, _ := st.Catalog.GetTarget(ctx, "adm-copy"); !reflect.DeepEqual(got2.Schedule, want) {
		t.Errorf("a bad cron changed the schedule to %+v", got2.Schedule)
	}
	s.post("/admin/targets/adm-copy/schedule", url.Values{"kind": {"off"}})
	if got, _, _ = st.Catalog.GetTarget(ctx, "adm-copy"); got.Schedule != nil {
		t.Errorf("schedule off left %+v", got.Schedule)
	}
}

// fetchPage reads a page of the demo site as the test's own client.
func fetchPage(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConsoleAdminTestSelectors(t *testing.T) {
	st := stack(t)
	ctx := context.Background()
	s := adminSession(t, st)
	demo, demoSrc, err := st.Catalog.GetTarget(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	index := st.Demo + "/category/all"
	want, err := crawler.ExtractLinks(demo, index, fetchPage(t, index))
	if err != nil || len(want.Listings) == 0 || want.Next == "" {
		t.Fatalf("the demo index page: %+v %v", want, err)
	}
	code, body, _ := s.post("/admin/targets/demo/probe", url.Values{"source": {string(demoSrc)}, "url": {index}, "kind": {"index"}})
	if code != http.StatusOK {
		t.Fatalf("test selectors = %d\n%s", code, body)
	}
	if !strings.Contains(body, fmt.Sprintf("Listing links (%d)", len(want.Listings))) {
		t.Errorf("the page does not count %d listing links", len(want.Listings))
	}
	for _, l := range want.Listings {
		if !strings.Contains(body, html.EscapeString(l)) {
			t.Errorf("listing link %s not shown", l)
		}
	}
	if !strings.Contains(body, html.EscapeString(want.Next)) {
		t.Errorf("next page %s not shown", want.Next)
	}
	if editorText(t, body) != string(demoSrc) {
		t.Error("the editor lost the document")
	}

	// A listing page: each field's value.
	page := want.Listings[0]
	l, err := crawler.ExtractListing(demo, page, fetchPage(t, page))
	if err != nil {
		t.Fatal(err)
	}
	code, body, _ = s.post("/admin/targets/demo/probe", url.Values{"source": {string(demoSrc)}, "url": {page}, "kind": {"listing"}})
	if code != http.StatusOK {
		t.Fatalf("test selectors on a listing = %d", code)
	}
	for name, v := range map[string]string{"title": l.Title, "price": l.Price, "seller": l.Seller} {
		if v == "" {
			t.Fatalf("the demo listing %s has no %s", page, name)
		}
		if !strings.Contains(body, "<td>"+name+"</td>") || !strings.Contains(body, html.EscapeString(v)) {
			t.Errorf("field %s = %q not shown", name, v)
		}
	}

	// Hosts the target does not allow are not fetched.
	code, body, _ = s.post("/admin/targets/demo/probe", url.Values{"source": {string(demoSrc)}, "url": {"http://elsewhere.invalid/x"}, "kind": {"index"}})
	if code != http.StatusOK || !strings.Contains(body, html.EscapeString(crawler.ErrHostNotAllowed.Error())) {
		t.Errorf("a host not allowed: %d, no refusal shown", code)
	}
	// Nothing was stored: the demo target is as it was.
	if _, after, _ := st.Catalog.GetTarget(ctx, "demo"); string(after) != string(demoSrc) {
		t.Error("testing selectors changed the target")
	}
}
