package api_test

import (
	"bytes"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/storage"
)

// The investigators' pages. These tests make their own cases and add
// flags of the demo sweep to them; they never review a flag, so flags'
// statuses (which the review tests change) stay as they are.

// investigateSeller returns a seller of the demo sweep's captures that has
// at least one flagged listing, with that listing's target.
func investigateSeller(t *testing.T, st *consoleStack) (target, seller string) {
	t.Helper()
	flags, err := st.Catalog.ListFlags(t.Context(), storage.FlagFilter{SweepID: st.SweepID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range flags {
		if f.Listing.Seller != "" {
			return f.Target, f.Listing.Seller
		}
	}
	t.Fatalf("no flag of sweep %s names a seller", st.SweepID)
	return "", ""
}

// demoFlags returns n flags of the demo sweep.
func demoFlags(t *testing.T, st *consoleStack, n int) []wildwatch.Flag {
	t.Helper()
	flags, err := st.Catalog.ListFlags(t.Context(), storage.FlagFilter{SweepID: st.SweepID, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(flags) < n {
		t.Fatalf("the demo sweep has %d flags, want at least %d", len(flags), n)
	}
	return flags[:n]
}

var (
	listingURLs = regexp.MustCompile(`<div class="small muted inv-url">[^<]*<a href="([^"]+)"`)
	sellerLinks = regexp.MustCompile(`class="inv-seller">([^<]*)<`)
)

func unescaped(ms [][]string) []string {
	var out []string
	for _, m := range ms {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func TestConsoleInvestigateRoles(t *testing.T) {
	st := stack(t)
	pages := []string{"/listings", "/sellers?seller=x", "/listings/history?url=x", "/cases", "/cases/add?flag=x", "/cases/nope",
		"/custody", "/custody/verify", "/bundles/aaaaaaaaaaaaaaaa"}
	out := st.newSession(t)
	for _, p := range pages {
		code, _ := out.get(p)
		if code != http.StatusSeeOther {
			t.Errorf("signed out GET %s = %d, want 303", p, code)
		}
		res, err := out.c.Get(st.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if loc := res.Header.Get("Location"); !strings.HasPrefix(loc, "/login?next=") {
			t.Errorf("signed out GET %s goes to %q, want /login", p, loc)
		}
	}
	mon := invSignIn(t, st, api.RoleMonitor)
	for _, p := range pages {
		if code, _ := mon.get(p); code != http.StatusForbidden {
			t.Errorf("monitor GET %s = %d, want 403", p, code)
		}
	}
	for _, p := range []string{"/cases", "/cases/add", "/bundles/aaaaaaaaaaaaaaaa/link"} {
		if code, _, _ := mon.post(p, url.Values{"name": {"monitor's case"}, "flag": {"x"}, "expires": {"1h"}}); code != http.StatusForbidden {
			t.Errorf("monitor POST %s = %d, want 403", p, code)
		}
	}
	inv := invSignIn(t, st, api.RoleInvestigator)
	if code, _ := inv.get("/custody/verify"); code != http.StatusForbidden {
		t.Errorf("investigator GET /custody/verify = %d, want 403 (admins only)", code)
	}
	after, err := st.Catalog.ListCases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range after {
		if k.Name == "monitor's case" {
			t.Errorf("a monitor made case %+v", k)
		}
	}
}

func TestConsoleInvestigateListings(t *testing.T) {
	st := stack(t)
	ctx := t.Context()
	target, seller := investigateSeller(t, st)
	s := invSignIn(t, st, api.RoleInvestigator)

	// What the catalog says matches: every listing whose last capture
	// names the seller (or has the text in its title, description or URL).
	all, err := st.Catalog.ListListings(ctx, storage.ListingFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	needle := strings.ToLower(seller)
	var want []string
	for _, l := range all {
		rec, err := st.Catalog.GetCapture(ctx, l.LastCapture)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{rec.Listing.Title, rec.Listing.Description, rec.Listing.Seller, l.URL} {
			if strings.Contains(strings.ToLower(v), needle) {
				want = append(want, l.URL)
				break
			}
		}
	}
	if len(want) == 0 || len(want) > 50 {
		t.Fatalf("seller %q matches %d listings in the catalog; want 1 to 50 for one page", seller, len(want))
	}
	body := s.mustGet("/listings?q=" + url.QueryEscape(strings.ToUpper(seller)))
	got := unescaped(listingURLs.FindAllStringSubmatch(body, -1))
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("search %q lists\n%q\nthe catalog has\n%q", seller, got, want)
	}
	if !slices.Contains(unescaped(sellerLinks.FindAllStringSubmatch(body, -1)), seller) {
		t.Errorf("no seller link to %q in the results", seller)
	}
	if !strings.Contains(body, `href="/sellers?seller=`+url.QueryEscape(seller)+`&amp;target=`+url.QueryEscape(target)+`"`) {
		t.Errorf("no link to the seller page of %s on %s", seller, target)
	}

	// Filters: flagged only lists listings with flags; removed ones only
	// removed listings; a nonsense text nothing.
	body = s.mustGet("/listings?flagged=1&target=" + url.QueryEscape(target))
	rows := strings.Count(body, `class="inv-listing"`)
	if rows == 0 || strings.Count(body, `<span class="badge warn" title=`) != rows {
		t.Errorf("flagged only: %d rows, %d with flags", rows, strings.Count(body, `<span class="badge warn" title=`))
	}
	body = s.mustGet("/listings?status=removed")
	if n := strings.Count(body, `class="inv-listing"`); n != strings.Count(body, `badge bad">removed<`) {
		t.Errorf("removed only: %d rows, %d removed", n, strings.Count(body, `badge bad">removed<`))
	}
	body = s.mustGet("/listings?q=" + url.QueryEscape("no such listing 7f3a"))
	if strings.Contains(body, `class="inv-listing"`) || !strings.Contains(body, "No listing matches") {
		t.Error("a nonsense search found listings")
	}
	// Paging: page 2 of everything holds no row of page 1.
	if len(all) > 50 {
		p1 := listingURLs.FindAllStringSubmatch(s.mustGet("/listings"), -1)
		p2 := listingURLs.FindAllStringSubmatch(s.mustGet("/listings?page=2"), -1)
		if len(p1) != 50 || len(p2) == 0 || p1[0][1] == p2[0][1] {
			t.Errorf("paging: %d then %d rows", len(p1), len(p2))
		}
	}
}

func TestConsoleInvestigateSellerAndHistory(t *testing.T) {
	st := stack(t)
	ctx := t.Context()
	target, seller := investigateSeller(t, st)
	s := invSignIn(t, st, api.RoleInvestigator)
	body := s.mustGet("/sellers?target=" + url.QueryEscape(target) + "&seller=" + url.QueryEscape(seller))
	ms, err := st.Catalog.SearchListings(ctx, storage.ListingQuery{Target: target, Seller: seller, Limit: 1000})
	if err != nil || len(ms) == 0 {
		t.Fatalf("catalog: %d listings of %s, %v", len(ms), seller, err)
	}
	for _, m := range ms {
		if !strings.Contains(body, html.EscapeString(m.Status.URL)) {
			t.Errorf("seller page lacks listing %s", m.Status.URL)
		}
	}
	if !strings.Contains(body, `<dd class="inv-count-here">`+strconv.Itoa(len(ms))+`</dd>`) {
		t.Errorf("seller page does not count %d listings", len(ms))
	}
	flags, err := st.Catalog.SearchFlags(ctx, storage.FlagQuery{Target: target, Seller: seller})
	if err != nil || len(flags) == 0 {
		t.Fatalf("catalog: %d flags of %s, %v", len(flags), seller, err)
	}
	for _, f := range flags {
		if !strings.Contains(body, `name="flag" value="`+f.ID+`"`) || !strings.Contains(body, f.Category) {
			t.Errorf("seller page lacks flag %s (%s)", f.ID, f.Category)
		}
	}
	if code, _ := s.get("/sellers"); code != http.StatusBadRequest {
		t.Errorf("seller page without a seller = %d, want 400", code)
	}

	// One listing's history: every capture, its evidence and its flag.
	f := flags[0]
	body = s.mustGet("/listings/history?target=" + url.QueryEscape(f.Target) + "&url=" + url.QueryEscape(f.URL))
	recs, err := st.Catalog.ListingHistory(ctx, f.Target, f.URL)
	if err != nil || len(recs) == 0 {
		t.Fatalf("history of %s: %d, %v", f.URL, len(recs), err)
	}
	if n := strings.Count(body, `<li class="card inv-capture`); n != len(recs) {
		t.Errorf("history shows %d captures, the catalog has %d", n, len(recs))
	}
	for _, rec := range recs {
		for _, want := range []string{"/api/v1/captures/" + rec.Capture.ID + "/warc", "prefix=captures%2F" + rec.Capture.SweepID + "%2F" + rec.Capture.ID} {
			if !strings.Contains(body, want) {
				t.Errorf("history lacks %s", want)
			}
		}
	}
	if !strings.Contains(body, `href="/flags/`+f.ID+`"`) {
		t.Errorf("history does not link flag %s", f.ID)
	}
	if code, _ := s.get("/listings/history?target=" + url.QueryEscape(f.Target) + "&url=" + url.QueryEscape(f.URL+"-none")); code != http.StatusNotFound {
		t.Errorf("history of an unknown listing = %d, want 404", code)
	}
}

// invSignIn signs in and loads a page of this area for its CSRF token
// (the monitor gets a 403 page, which carries the token too).
func invSignIn(t *testing.T, st *consoleStack, role string) *session {
	t.Helper()
	s := st.signIn(t, role)
	s.get("/cases")
	if s.csrf == "" {
		t.Fatal("no CSRF token on /cases")
	}
	return s
}

var caseLocation = regexp.MustCompile(`^/cases/([a-z2-7]{16})$`)

// newCase creates a case through the console and returns its ID.
func newCase(t *testing.T, s *session, name string) string {
	t.Helper()
	code, body, loc := s.post("/cases", url.Values{"name": {name}, "notes": {"opened by a test"}})
	m := caseLocation.FindStringSubmatch(loc)
	if code != http.StatusSeeOther || m == nil {
		t.Fatalf("creating case %q = %d %q\n%s", name, code, loc, body)
	}
	return m[1]
}

func caseFlagIDs(t *testing.T, st *consoleStack, id string) []string {
	t.Helper()
	k, err := st.Catalog.GetCase(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range k.Flags {
		ids = append(ids, f.FlagID)
	}
	return ids
}

func TestConsoleInvestigateCases(t *testing.T) {
	st := stack(t)
	ctx := t.Context()
	s := invSignIn(t, st, api.RoleInvestigator)
	flags := demoFlags(t, st, 3)

	// CSRF: a post without the token makes no case.
	if code, _, _ := s.post("/cases", url.Values{"csrf": {"forged"}, "name": {"forged case 91c"}}); code != http.StatusForbidden {
		t.Errorf("create without CSRF = %d, want 403", code)
	}
	cases, err := st.Catalog.ListCases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range cases {
		if k.Name == "forged case 91c" {
			t.Fatal("a forged post made a case")
		}
	}
	if code, _, loc := s.post("/cases", url.Values{"name": {"  "}}); code != http.StatusSeeOther || loc != "/cases" {
		t.Errorf("case without a name = %d %q", code, loc)
	}

	id := newCase(t, s, "Ivory bangles, case test")
	_, body := s.follow("/cases/" + id)
	if !strings.Contains(body, "Ivory bangles, case test") || !strings.Contains(body, "opened by a test") {
		t.Errorf("new case page lacks its name or notes:\n%s", body)
	}
	if !strings.Contains(s.mustGet("/cases"), `href="/cases/`+id+`"`) {
		t.Error("case list lacks the new case")
	}

	// Name and notes.
	if code, _, _ := s.post("/cases/"+id, url.Values{"name": {"Ivory bangles"}, "notes": {"seller ring, Q3"}}); code != http.StatusSeeOther {
		t.Fatalf("saving = %d", code)
	}
	if code, _, _ := s.post("/cases/"+id, url.Values{"csrf": {"forged"}, "name": {"forged name"}}); code != http.StatusForbidden {
		t.Errorf("save without CSRF = %d, want 403", code)
	}
	if k, err := st.Catalog.GetCase(ctx, id); err != nil || k.Name != "Ivory bangles" || k.Notes != "seller ring, Q3" {
		t.Errorf("case after saving = %+v, %v", k, err)
	}

	// Add by IDs, one unknown: nothing added.
	code, _, loc := s.post("/cases/"+id+"/flags", url.Values{"ids": {flags[0].ID + ", no-such-flag"}})
	if code != http.StatusSeeOther || loc != "/cases/"+id {
		t.Errorf("adding an unknown flag = %d %q", code, loc)
	}
	if ids := caseFlagIDs(t, st, id); len(ids) != 0 {
		t.Errorf("an unknown flag among the IDs still added %q", ids)
	}
	if code, _, _ := s.post("/cases/"+id+"/flags", url.Values{"ids": {flags[0].ID + " " + flags[1].ID}}); code != http.StatusSeeOther {
		t.Fatalf("adding by IDs = %d", code)
	}
	if code, _, _ := s.post("/cases/"+id+"/flags", url.Values{"csrf": {"forged"}, "flag": {flags[2].ID}}); code != http.StatusForbidden {
		t.Errorf("adding without CSRF = %d, want 403", code)
	}
	if ids := caseFlagIDs(t, st, id); !slices.Equal(ids, []string{flags[0].ID, flags[1].ID}) && !slices.Equal(ids, []string{flags[1].ID, flags[0].ID}) {
		t.Fatalf("case flags = %q, want the first two", ids)
	}
	// The case page lists them with what the catalog says of them.
	body = s.mustGet("/cases/" + id)
	for _, f := range flags[:2] {
		for _, want := range []string{`data-flag="` + f.ID + `"`, html.EscapeString(f.Category), html.EscapeString(truncated(f.Listing.Title, 80))} {
			if !strings.Contains(body, want) {
				t.Errorf("case page lacks %q of flag %s", want, f.ID)
			}
		}
	}
	// Pick from a search of the sweep's flags (checkboxes).
	body = s.mustGet("/cases/" + id + "?sweep=" + url.QueryEscape(st.SweepID))
	if !strings.Contains(body, `name="flag" value="`+flags[2].ID+`"`) {
		t.Fatalf("flag search of the sweep lacks flag %s", flags[2].ID)
	}
	if code, _, _ := s.post("/cases/"+id+"/flags", url.Values{"flag": {flags[2].ID}}); code != http.StatusSeeOther {
		t.Fatalf("adding a picked flag = %d", code)
	}
	if ids := caseFlagIDs(t, st, id); len(ids) != 3 || !slices.Contains(ids, flags[2].ID) {
		t.Errorf("case flags after picking = %q", ids)
	}
	// Remove one; a forged remove changes nothing.
	if code, _, _ := s.post("/cases/"+id+"/flags/remove", url.Values{"csrf": {"forged"}, "flag": {flags[2].ID}}); code != http.StatusForbidden {
		t.Errorf("remove without CSRF = %d, want 403", code)
	}
	if code, _, _ := s.post("/cases/"+id+"/flags/remove", url.Values{"flag": {flags[2].ID}}); code != http.StatusSeeOther {
		t.Fatalf("remove = %d", code)
	}
	if ids := caseFlagIDs(t, st, id); len(ids) != 2 || slices.Contains(ids, flags[2].ID) {
		t.Errorf("case flags after removing = %q", ids)
	}

	// From the review page: /cases/add?flag=ID, into an existing case or a
	// new one.
	body = s.mustGet("/cases/add?flag=" + flags[2].ID)
	if !strings.Contains(body, `<option value="`+id+`">Ivory bangles</option>`) {
		t.Error("add page does not offer the existing case")
	}
	if code, _, loc := s.post("/cases/add", url.Values{"flag": {flags[2].ID}, "case": {id}}); code != http.StatusSeeOther || loc != "/cases/"+id {
		t.Errorf("add to existing = %d %q", code, loc)
	}
	if ids := caseFlagIDs(t, st, id); !slices.Contains(ids, flags[2].ID) {
		t.Errorf("add page did not add the flag: %q", ids)
	}
	code, _, loc = s.post("/cases/add", url.Values{"flag": {flags[2].ID}, "case": {"new"}, "name": {"From review, case test"}})
	m := caseLocation.FindStringSubmatch(loc)
	if code != http.StatusSeeOther || m == nil || m[1] == id {
		t.Fatalf("add to a new case = %d %q", code, loc)
	}
	if ids := caseFlagIDs(t, st, m[1]); !slices.Equal(ids, []string{flags[2].ID}) {
		t.Errorf("new case from the add page holds %q", ids)
	}
	if code, _, _ := s.post("/cases/add", url.Values{"csrf": {"forged"}, "flag": {flags[2].ID}, "case": {"new"}, "name": {"forged 2"}}); code != http.StatusForbidden {
		t.Errorf("add page post without CSRF = %d, want 403", code)
	}
	if code, _ := s.get("/cases/add?flag=no-such-flag"); code != http.StatusNotFound {
		t.Errorf("add page of an unknown flag = %d, want 404", code)
	}
	// Delete the second case.
	if code, _, _ := s.post("/cases/"+m[1]+"/delete", url.Values{"csrf": {"forged"}}); code != http.StatusForbidden {
		t.Errorf("delete without CSRF = %d", code)
	}
	if code, _, loc := s.post("/cases/"+m[1]+"/delete", nil); code != http.StatusSeeOther || loc != "/cases" {
		t.Errorf("delete = %d %q", code, loc)
	}
	if _, err := st.Catalog.GetCase(ctx, m[1]); err == nil {
		t.Error("deleted case is still there")
	}
	if code, _ := s.get("/cases/" + m[1]); code != http.StatusNotFound {
		t.Errorf("deleted case page = %d, want 404", code)
	}
}

func truncated(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

var bundleLocation = regexp.MustCompile(`^/cases/[a-z2-7]{16}\?bundle=([a-z2-7]{16})#exports$`)

func TestConsoleInvestigateExport(t *testing.T) {
	st := stack(t)
	ctx := t.Context()
	s := invSignIn(t, st, api.RoleInvestigator)
	flags := demoFlags(t, st, 2)
	id := newCase(t, s, "Export case test")

	// An empty case exports nothing.
	if code, _, loc := s.post("/cases/"+id+"/export", nil); code != http.StatusSeeOther || loc != "/cases/"+id {
		t.Errorf("exporting an empty case = %d %q", code, loc)
	}
	if code, _, _ := s.post("/cases/"+id+"/flags", url.Values{"flag": {flags[0].ID, flags[1].ID}}); code != http.StatusSeeOther {
		t.Fatalf("adding flags = %d", code)
	}
	// CSRF: a forged export makes no bundle.
	if code, _, _ := s.post("/cases/"+id+"/export", url.Values{"csrf": {"forged"}}); code != http.StatusForbidden {
		t.Errorf("export without CSRF = %d, want 403", code)
	}
	if es, _ := s.exportsOf(st, id); len(es) != 0 {
		t.Errorf("a forged export made bundles %q", es)
	}
	code, body, loc := s.post("/cases/"+id+"/export", nil)
	m := bundleLocation.FindStringSubmatch(loc)
	if code != http.StatusSeeOther || m == nil {
		t.Fatalf("export = %d %q\n%s", code, loc, body)
	}
	bid := m[1]
	_, page := s.follow(loc)
	if !strings.Contains(page, `href="/bundles/`+bid+`"`) || !strings.Contains(page, "Case bundle made: 2 captures") {
		t.Errorf("case page after export lacks the download or the message")
	}

	// The download is the stored bundle; it verifies, signed by the
	// server's key, and holds the captures of the case's flags.
	res, err := s.c.Get(st.URL + "/bundles/" + bid)
	if err != nil {
		t.Fatal(err)
	}
	wacz, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("download = %d, %v", res.StatusCode, err)
	}
	pub := serverKey(t, st)
	rep, err := storage.VerifyBundle(ctx, bytes.NewReader(wacz), int64(len(wacz)), storage.BundleTrust{PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || !rep.Authenticated {
		t.Fatalf("bundle does not verify: %+v", rep.Problems)
	}
	var got, want []string
	for _, c := range rep.Captures {
		got = append(got, c.ID)
	}
	for _, f := range flags {
		want = append(want, f.CaptureID)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("bundle captures %q, the case's flags' captures %q", got, want)
	}

	// A share link: 1 hour; a plain client with no cookie gets the same
	// bytes.
	if code, _, _ := s.post("/bundles/"+bid+"/link", url.Values{"csrf": {"forged"}, "expires": {"1h"}}); code != http.StatusForbidden {
		t.Errorf("link without CSRF = %d, want 403", code)
	}
	if code, _, _ := s.post("/bundles/"+bid+"/link", url.Values{"expires": {"90d"}}); code != http.StatusBadRequest {
		t.Errorf("link for 90 days = %d, want 400", code)
	}
	code, body, _ = s.post("/bundles/"+bid+"/link", url.Values{"expires": {"1h"}, "back": {"/cases/" + id}})
	lm := regexp.MustCompile(`data-copy="([^"]+)"`).FindStringSubmatch(body)
	if code != http.StatusOK || lm == nil {
		t.Fatalf("link = %d\n%s", code, body)
	}
	link := html.UnescapeString(lm[1])
	if !strings.HasPrefix(link, st.URL+"/links/") {
		t.Errorf("link %q is not served by the server", link)
	}
	res, err = http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || !bytes.Equal(shared, wacz) {
		t.Errorf("share link = %d, %d bytes (want the %d bytes of the bundle), %v", res.StatusCode, len(shared), len(wacz), err)
	}

	// The custody log of the bundle: made, downloaded, linked, fetched.
	body = s.mustGet("/custody?object=" + url.QueryEscape("bundles/"+bid+".wacz"))
	for _, action := range []string{"bundle-create", storage.ActionExport, storage.ActionLinkCreate, storage.ActionLinkUse} {
		if !strings.Contains(body, `data-action="`+action+`"`) {
			t.Errorf("custody page of the bundle lacks %s", action)
		}
	}
	if !strings.Contains(body, st.Users[api.RoleInvestigator]) {
		t.Error("custody page does not name the investigator")
	}
	es, err := (&storage.Custody{Catalog: st.Catalog}).List(ctx, storage.CustodyFilter{Object: "bundles/" + bid + ".wacz"})
	if err != nil || len(es) < 4 {
		t.Fatalf("custody entries of the bundle: %d, %v", len(es), err)
	}
	for _, e := range es {
		if !strings.Contains(body, `title="`+e.Hash+`"`) {
			t.Errorf("custody page lacks entry %d", e.Seq)
		}
	}
	if ex, _ := s.exportsOf(st, id); !slices.Equal(ex, []string{bid}) {
		t.Errorf("case exports = %q, want [%s]", ex, bid)
	}

	// Admins verify the chain.
	adm := invSignIn(t, st, api.RoleAdmin)
	body = adm.mustGet("/custody/verify?object=" + url.QueryEscape("bundles/"+bid+".wacz"))
	if !strings.Contains(body, "Chain intact") {
		t.Errorf("verify page does not say the chain is intact")
	}
	if !strings.Contains(s.mustGet("/custody"), "bundles/"+bid+".wacz") {
		t.Error("latest custody entries lack the bundle")
	}
}

// exportsOf returns the bundle IDs the case page offers for download.
func (s *session) exportsOf(st *consoleStack, id string) ([]string, error) {
	s.t.Helper()
	body := s.mustGet("/cases/" + id)
	var out []string
	for _, m := range regexp.MustCompile(`data-bundle="([a-z2-7]{16})"`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out, nil
}

// serverKey reads the server's public key from the API.
func serverKey(t *testing.T, st *consoleStack) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, st.URL+"/api/v1/keys", nil)
	req.Header.Set("Authorization", "Bearer "+st.Tokens[api.RoleMonitor])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var k struct {
		PublicKey string `json:"public_key"`
	}
	if err := json.NewDecoder(res.Body).Decode(&k); err != nil {
		t.Fatal(err)
	}
	pub, err := storage.ParsePublicKey([]byte(k.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}
