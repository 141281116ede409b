package api_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/storage"
)

// The review handler tests review only the demo target's flags of category
// other_wildlife in English (reviewTestQueue); no other test of the
// package touches those, and sweeps of other targets do not add to them.
// The end-to-end test has its own queue (rhino_horn in Vietnamese).
var reviewTestQueue = url.Values{"target": {"demo"}, "category": {"other_wildlife"}, "lang": {"en"}, "status": {wildwatch.FlagNew}}

// reviewTestAll is reviewTestQueue whatever the status.
var reviewTestAll = url.Values{"target": {"demo"}, "category": {"other_wildlife"}, "lang": {"en"}}

// reviewQueueFlags returns the new flags of the queue q, in queue order,
// read from the catalog; it fails unless there are at least min.
func reviewQueueFlags(t *testing.T, st *consoleStack, q url.Values, min int) []wildwatch.Flag {
	t.Helper()
	f := storage.ReviewFilter{FlagFilter: storage.FlagFilter{Target: q.Get("target"), Category: q.Get("category"), Status: q.Get("status")}, Lang: q.Get("lang")}
	fs, err := st.Catalog.ListReviewFlags(t.Context(), f)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) < min {
		t.Fatalf("the demo sweep left %d flags in the queue %s, the test needs %d", len(fs), q.Encode(), min)
	}
	return fs
}

func TestConsoleReviewSignedOut(t *testing.T) {
	st := stack(t)
	fs := reviewQueueFlags(t, st, reviewTestAll, 1)
	before, err := st.Catalog.GetFlag(t.Context(), fs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	s := st.newSession(t)
	for _, p := range []string{"/flags?category=ivory", "/flags/" + fs[0].ID} {
		res, err := s.c.Get(st.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if loc := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || loc != "/login?next="+url.QueryEscape(p) {
			t.Errorf("signed-out GET %s = %d %q, want 303 to the sign-in page", p, res.StatusCode, loc)
		}
	}
	code, _, _ := s.postRaw("/flags/"+fs[0].ID+"/review", url.Values{"decision": {"confirmed"}})
	if code != http.StatusUnauthorized {
		t.Errorf("signed-out review = %d, want 401", code)
	}
	after, err := st.Catalog.GetFlag(t.Context(), fs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Status != before.Status || len(after.Reviews) != len(before.Reviews) {
		t.Errorf("a signed-out post changed the flag: %s, %d reviews", after.Status, len(after.Reviews))
	}
}

var reviewRowRe = regexp.MustCompile(`<tr data-flag="([^"]+)">`)

func TestConsoleReviewQueue(t *testing.T) {
	st := stack(t)
	all := reviewQueueFlags(t, st, reviewTestAll, 2)
	s := st.signIn(t, api.RoleMonitor)

	t.Run("filtered by category and language, newest first", func(t *testing.T) {
		body := s.mustGet("/flags?" + reviewTestAll.Encode())
		var got []string
		for _, m := range reviewRowRe.FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		var want []string
		for _, f := range all {
			want = append(want, f.ID)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("queue rows %v, catalog %v", got, want)
		}
		for _, f := range all {
			if !strings.Contains(html.UnescapeString(body), `title="`+f.Listing.Title+`"`) {
				t.Errorf("flag %s: title %q not shown", f.ID, f.Listing.Title)
			}
			if !strings.Contains(body, `href="/flags/`+f.ID+`?`+strings.ReplaceAll(reviewTestAll.Encode(), "&", "&amp;")+`"`) {
				t.Errorf("flag %s: no link that keeps the queue's filter", f.ID)
			}
		}
		counts, err := st.Catalog.CountReviewFlags(t.Context(), storage.ReviewFilter{FlagFilter: storage.FlagFilter{Target: "demo", Category: "other_wildlife"}, Lang: "en"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(body, "new <b>"+strconv.Itoa(counts[wildwatch.FlagNew])+"</b>") {
			t.Errorf("the count of new flags (%d in the catalog) is not shown", counts[wildwatch.FlagNew])
		}
		if !strings.Contains(body, `<option value="other_wildlife" selected>`) || !strings.Contains(body, `<option value="en" selected>`) {
			t.Error("the filter form does not show the filter applied")
		}
	})

	t.Run("platform", func(t *testing.T) {
		// A platform is the targets that name it: the demo target's
		// platform keeps its flags; a platform no target names keeps none.
		tg, _, err := st.Catalog.GetTarget(t.Context(), "demo")
		if err != nil {
			t.Fatal(err)
		}
		body := s.mustGet("/flags?" + reviewTestAll.Encode() + "&platform=" + url.QueryEscape(tg.Platform))
		for _, f := range all {
			if !strings.Contains(body, `<tr data-flag="`+f.ID+`">`) {
				t.Errorf("platform %s: flag %s of target demo is not listed", tg.Platform, f.ID)
			}
		}
		if !strings.Contains(body, `<option value="`+tg.Platform+`" selected>`) {
			t.Error("the platform filter is not shown as applied")
		}
		if body := s.mustGet("/flags?" + reviewTestAll.Encode() + "&platform=no-such-market"); reviewRowRe.MatchString(body) {
			t.Error("a platform no target names lists flags")
		}
	})

	t.Run("minimum score", func(t *testing.T) {
		min := all[0].Score
		body := s.mustGet("/flags?" + reviewTestAll.Encode() + "&min=" + strconv.FormatFloat(min, 'f', -1, 64))
		for _, f := range all {
			shown := strings.Contains(body, `<tr data-flag="`+f.ID+`">`)
			if shown != (f.Score >= min) {
				t.Errorf("min %v: flag %s scoring %v shown %v", min, f.ID, f.Score, shown)
			}
		}
	})

	t.Run("other categories are left out", func(t *testing.T) {
		other, err := st.Catalog.ListFlags(t.Context(), storage.FlagFilter{Category: "ivory", Limit: 1})
		if err != nil || len(other) == 0 {
			t.Fatalf("no ivory flag to compare with: %v", err)
		}
		if body := s.mustGet("/flags?" + reviewTestAll.Encode()); strings.Contains(body, other[0].ID) {
			t.Errorf("an ivory flag is in the other_wildlife queue")
		}
	})

	t.Run("paging", func(t *testing.T) {
		body := s.mustGet("/flags")
		if n := len(reviewRowRe.FindAllString(body, -1)); n != 50 {
			t.Errorf("the first page lists %d flags, want 50 (the demo sweep made more than 100)", n)
		}
		if !strings.Contains(body, `href="/flags?page=2" rel="next"`) {
			t.Error("no link to the second page")
		}
		body2 := s.mustGet("/flags?page=2")
		first := reviewRowRe.FindStringSubmatch(body)
		if first == nil || strings.Contains(body2, `<tr data-flag="`+first[1]+`">`) {
			t.Error("the second page repeats the first")
		}
	})

	t.Run("a bad filter is said", func(t *testing.T) {
		body := s.mustGet("/flags?status=nonsense&min=abc")
		if !strings.Contains(body, "no status nonsense") || !strings.Contains(body, "abc is not a score") {
			t.Error("the bad status and score are not reported")
		}
	})
}

var (
	reviewTextRe = regexp.MustCompile(`(?s)<p class="review-text" data-field="([^"]+)">(.*?)</p>`)
	reviewMarkRe = regexp.MustCompile(`(?s)<mark data-n="([\d,]+)" data-start="(\d+)" data-end="(\d+)"[^>]*>(.*?)</mark>`)
)

// markedText rebuilds a field's text from its HTML and returns it with
// the byte offsets at which each <mark> begins and ends in it.
func markedText(inner string) (text string, marks [][2]int, declared [][2]int) {
	var b strings.Builder
	at := 0
	for _, m := range reviewMarkRe.FindAllStringSubmatchIndex(inner, -1) {
		b.WriteString(html.UnescapeString(inner[at:m[0]]))
		start := b.Len()
		b.WriteString(html.UnescapeString(inner[m[8]:m[9]]))
		marks = append(marks, [2]int{start, b.Len()})
		ds, _ := strconv.Atoi(inner[m[4]:m[5]])
		de, _ := strconv.Atoi(inner[m[6]:m[7]])
		declared = append(declared, [2]int{ds, de})
		at = m[1]
	}
	b.WriteString(html.UnescapeString(inner[at:]))
	return b.String(), marks, declared
}

func TestConsoleReviewFlagPage(t *testing.T) {
	st := stack(t)
	fs := reviewQueueFlags(t, st, reviewTestAll, 2)
	s := st.signIn(t, api.RoleMonitor)
	q := "?" + reviewTestAll.Encode()

	for i, f := range fs {
		body := s.mustGet("/flags/" + f.ID + q)
		plain := html.UnescapeString(body)
		// The words matched are marked at the offsets the catalog holds.
		fields := map[string]string{}
		for _, tf := range f.Listing.TextFields() {
			fields[tf.Name] = tf.Value
		}
		marked := map[string][][2]int{}
		for _, m := range reviewTextRe.FindAllStringSubmatch(body, -1) {
			text, marks, declared := markedText(m[2])
			if text != fields[m[1]] {
				t.Errorf("flag %s: field %s shows %q, the listing has %q", f.ID, m[1], text, fields[m[1]])
			}
			for k := range marks {
				if marks[k] != declared[k] {
					t.Errorf("flag %s: field %s: a mark sits at %v but says %v", f.ID, m[1], marks[k], declared[k])
				}
			}
			marked[m[1]] = marks
		}
		if len(f.Verdict.Matches) == 0 {
			t.Errorf("flag %s has no matches to mark", f.ID)
		}
		for _, m := range f.Verdict.Matches {
			found := false
			for _, mk := range marked[m.Field] {
				found = found || mk[0] <= m.Start && m.End <= mk[1]
			}
			if !found {
				t.Errorf("flag %s: match %s %q at %s %d–%d is not marked there", f.ID, m.Rule, m.Text, m.Field, m.Start, m.End)
			}
			if !strings.Contains(plain, `<td class="mono">`+m.Rule+`</td>`) {
				t.Errorf("flag %s: rule %s not listed beside its match", f.ID, m.Rule)
			}
		}
		if !strings.Contains(plain, f.Verdict.RuleSet) {
			t.Errorf("flag %s: rule set %s not shown", f.ID, f.Verdict.RuleSet)
		}
		// The screenshot, or a word that there is none.
		rec, err := st.Catalog.GetCapture(t.Context(), f.CaptureID)
		if err != nil {
			t.Fatal(err)
		}
		img := `src="/api/v1/captures/` + f.CaptureID + `/screenshot"`
		if rec.ScreenshotKey != "" {
			if !strings.Contains(body, img) {
				t.Errorf("flag %s: the capture has a screenshot the page does not show", f.ID)
			}
			res, err := s.c.Get(st.URL + "/api/v1/captures/" + f.CaptureID + "/screenshot")
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/png" {
				t.Errorf("the screenshot answers %d %s to the console's session", res.StatusCode, res.Header.Get("Content-Type"))
			}
		} else if strings.Contains(body, img) || !strings.Contains(body, "has no screenshot") {
			t.Errorf("flag %s: no screenshot, and no placeholder", f.ID)
		}
		// Stepping through the queue.
		q := strings.ReplaceAll(q, "&", "&amp;")
		if i+1 < len(fs) && !strings.Contains(body, `href="/flags/`+fs[i+1].ID+q+`" data-key="j"`) {
			t.Errorf("flag %s: j does not lead to %s", f.ID, fs[i+1].ID)
		}
		if i > 0 && !strings.Contains(body, `href="/flags/`+fs[i-1].ID+q+`" data-key="k"`) {
			t.Errorf("flag %s: k does not lead to %s", f.ID, fs[i-1].ID)
		}
		for _, key := range []string{`data-key="c"`, `data-key="d"`, `data-key="r"`} {
			if !strings.Contains(body, key) {
				t.Errorf("flag %s: no %s", f.ID, key)
			}
		}
		if strings.Contains(body, "/cases/add?flag=") {
			t.Error("a monitor is offered to add to a case")
		}
		if f.Listing.Seller != "" && !strings.Contains(plain, f.Listing.Seller) {
			t.Errorf("flag %s: seller %s not shown", f.ID, f.Listing.Seller)
		}
	}

	inv := st.signIn(t, api.RoleInvestigator)
	body := inv.mustGet("/flags/" + fs[0].ID)
	if !strings.Contains(body, `href="/cases/add?flag=`+fs[0].ID+`"`) || !strings.Contains(body, "/api/v1/captures/"+fs[0].CaptureID+"/warc") {
		t.Error("an investigator gets no link to add the flag to a case or to its evidence")
	}
	if code, _ := s.get("/flags/no-such-flag"); code != http.StatusNotFound {
		t.Errorf("unknown flag = %d, want 404", code)
	}
}

func TestConsoleReviewDecide(t *testing.T) {
	st := stack(t)
	fs := reviewQueueFlags(t, st, reviewTestQueue, 3)
	s := st.signIn(t, api.RoleMonitor)
	queue := reviewTestQueue.Encode()
	post := func(id string, form url.Values) (int, string) {
		t.Helper()
		s.mustGet("/flags/" + id + "?" + queue)
		form.Set("next", queue)
		code, _, loc := s.post("/flags/"+id+"/review", form)
		return code, loc
	}
	unchanged := func(id, what string) {
		t.Helper()
		f, err := st.Catalog.GetFlag(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if f.Status != wildwatch.FlagNew || len(f.Reviews) != 0 {
			t.Errorf("%s: flag %s is %s with %d reviews, want it unchanged", what, id, f.Status, len(f.Reviews))
		}
	}

	// Without the CSRF token: refused, and nothing changes.
	s.mustGet("/flags/" + fs[0].ID)
	code, body, _ := s.postRaw("/flags/"+fs[0].ID+"/review", url.Values{"decision": {"confirmed"}, "next": {queue}})
	if code != http.StatusForbidden || !strings.Contains(body, "out of date") {
		t.Errorf("review without CSRF = %d", code)
	}
	code, _, _ = s.postRaw("/flags/"+fs[0].ID+"/review", url.Values{"decision": {"confirmed"}, "csrf": {"forged"}})
	if code != http.StatusForbidden {
		t.Errorf("review with a wrong CSRF token = %d", code)
	}
	unchanged(fs[0].ID, "without CSRF")

	// A dismissal without a reason is refused with a message.
	code, loc := post(fs[0].ID, url.Values{"decision": {"dismissed"}})
	if code != http.StatusSeeOther || loc != "/flags/"+fs[0].ID+"?"+queue {
		t.Fatalf("dismissal without a reason = %d %q, want 303 back to the flag", code, loc)
	}
	if _, page := s.follow(loc); !strings.Contains(page, "needs a reason") {
		t.Error("the refused dismissal says nothing")
	}
	code, loc = post(fs[0].ID, url.Values{"decision": {"dismissed"}, "reason": {"other"}})
	if _, page := s.follow(loc); code != http.StatusSeeOther || !strings.Contains(page, "Say why") {
		t.Error("“other” without text was not refused with a message")
	}
	code, _ = post(fs[0].ID, url.Values{"decision": {"dismissed"}, "reason": {"because"}})
	if code != http.StatusSeeOther {
		t.Errorf("unknown reason = %d", code)
	}
	unchanged(fs[0].ID, "dismissal without a reason")

	// Confirm: recorded, then on to the next flag of the same queue.
	code, loc = post(fs[0].ID, url.Values{"decision": {"confirmed"}})
	if want := "/flags/" + fs[1].ID + "?" + queue; code != http.StatusSeeOther || loc != want {
		t.Fatalf("confirm = %d %q, want 303 to %s", code, loc, want)
	}
	if _, page := s.follow(loc); !strings.Contains(page, "Flag confirmed.") {
		t.Error("the next flag does not say the last was confirmed")
	}
	got, err := st.Catalog.GetFlag(t.Context(), fs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != wildwatch.FlagConfirmed || len(got.Reviews) != 1 || got.Reviews[0].Reviewer != st.Users[api.RoleMonitor] {
		t.Errorf("after confirming: %s, reviews %+v", got.Status, got.Reviews)
	}
	if page := s.mustGet("/flags/" + fs[0].ID); !strings.Contains(page, `<b>`+st.Users[api.RoleMonitor]+`</b>`) {
		t.Error("the flag's review history does not show the confirmation")
	}

	// Dismiss with a reason and a note.
	code, loc = post(fs[1].ID, url.Values{"decision": {"dismissed"}, "reason": {"replica"}, "note": {"resin, see the photo"}})
	if want := "/flags/" + fs[2].ID + "?" + queue; code != http.StatusSeeOther || loc != want {
		t.Fatalf("dismiss = %d %q, want 303 to %s", code, loc, want)
	}
	got, err = st.Catalog.GetFlag(t.Context(), fs[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != wildwatch.FlagDismissed || len(got.Reviews) != 1 || !strings.Contains(got.Reviews[0].Note, "resin, see the photo") ||
		!strings.Contains(got.Reviews[0].Note, "replica") {
		t.Errorf("after dismissing: %s, reviews %+v", got.Status, got.Reviews)
	}

	// The queue of new flags no longer lists them.
	page := s.mustGet("/flags?" + queue)
	if strings.Contains(page, `<tr data-flag="`+fs[0].ID+`">`) || strings.Contains(page, `<tr data-flag="`+fs[1].ID+`">`) {
		t.Error("reviewed flags are still in the queue of new flags")
	}

	// Send to review: the flag waits for a second look, with the note.
	code, _ = post(fs[2].ID, url.Values{"decision": {"review"}, "note": {"ask the ivory specialist"}})
	if code != http.StatusSeeOther {
		t.Errorf("send to review = %d", code)
	}
	got, err = st.Catalog.GetFlag(t.Context(), fs[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != wildwatch.FlagReview || len(got.Reviews) != 1 || got.Reviews[0].Decision != wildwatch.FlagReview ||
		!strings.Contains(got.Reviews[0].Note, "ivory specialist") {
		t.Errorf("after sending to review: %s, reviews %+v", got.Status, got.Reviews)
	}
	if page := s.mustGet("/flags?status=review"); !strings.Contains(page, `<tr data-flag="`+fs[2].ID+`">`) {
		t.Error("the flag sent to review is not in the queue of flags to review")
	}

	// The last flag of a queue leads back to the queue.
	last := fs[len(fs)-1]
	if len(fs) > 3 {
		code, loc = post(last.ID, url.Values{"decision": {"confirmed"}})
		if want := "/flags?" + queue; code != http.StatusSeeOther || loc != want {
			t.Errorf("confirming the last flag = %d %q, want 303 to %s", code, loc, want)
		}
	}
}
