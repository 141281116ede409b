package api_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/wildwatch/wildwatch"
)

// TestConsoleE2EReview walks a monitor's triage in Chromium: the queue
// filtered by category, the first flag, c to confirm and land on the next,
// d to dismiss with a reason and land on the next, and ? for the
// shortcuts. It reviews only the demo target's new rhino_horn flags in
// Vietnamese, which no other test touches.
func TestConsoleE2EReview(t *testing.T) {
	st := stack(t)
	queue := url.Values{"target": {"demo"}, "category": {"rhino_horn"}, "lang": {"vi"}, "status": {wildwatch.FlagNew}}
	fs := reviewQueueFlags(t, st, queue, 3)
	// Signing in on the way to the queue lands on the queue.
	ctx := chrome(t)
	run(t, ctx, "sign in",
		chromedp.Navigate(st.URL+"/flags?target=demo&status=new&lang=vi"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=user]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=user]`), st.Users["monitor"]),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), st.Password),
		chromedp.Click(chromedp.CSS(`form:has(input[name=password]) button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`header.top`)),
	)

	at := func(what, id string) {
		t.Helper()
		waitPage(t, ctx, what, `location.pathname === `+strconv.Quote("/flags/"+id)+` && !!document.querySelector("#review-confirm")`)
	}

	// The queue of new Vietnamese flags, then the category chosen in the
	// filter form (which applies itself).
	run(t, ctx, "queue", chromedp.WaitVisible(chromedp.CSS(`select[name=category]`)))
	value(t, ctx, "choose the category", chromedp.Evaluate[int](`(() => { const s = document.querySelector("select[name=category]");
		s.value = "rhino_horn"; s.dispatchEvent(new Event("change")); return 1 })()`))
	waitPage(t, ctx, "filtered queue", `location.search.includes("category=rhino_horn") && !!document.querySelector("tr[data-flag]")`)
	rows := value(t, ctx, "rows", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("tr[data-flag]")).map(r => r.dataset.flag)`))
	if len(rows) != len(fs) || rows[0] != fs[0].ID {
		t.Errorf("the queue lists %v, the catalog %d flags starting with %s", rows, len(fs), fs[0].ID)
	}
	shot(t, ctx, "01-queue")

	run(t, ctx, "open the first flag", chromedp.Click(chromedp.CSS(`tr[data-flag="`+fs[0].ID+`"] td.review-title a`)))
	at("the first flag", fs[0].ID)
	if marks := value(t, ctx, "marks", chromedp.Evaluate[int](`document.querySelectorAll("p.review-text mark").length`)); marks == 0 {
		t.Error("the flag's text has no word marked")
	}
	// The screenshot of a rendered listing comes through the API with the
	// session's cookie: it must load, not show a broken image.
	if rec, err := st.Catalog.GetCapture(t.Context(), fs[0].CaptureID); err != nil {
		t.Fatal(err)
	} else if rec.ScreenshotKey != "" {
		waitPage(t, ctx, "the screenshot to load", `(() => { const i = document.querySelector("img.review-shot"); return !!i && i.complete && i.naturalWidth > 100 })()`)
	} else if n := value(t, ctx, "screenshot", chromedp.Evaluate[int](`document.querySelectorAll("img.review-shot").length`)); n != 0 {
		t.Errorf("a capture without a screenshot shows %d screenshot images", n)
	}
	shot(t, ctx, "02-flag")

	run(t, ctx, "press c", chromedp.KeyEvent("c"))
	at("the second flag after confirming", fs[1].ID)
	if flash := text(t, ctx, `.flash.ok`); !strings.Contains(flash, "confirmed") {
		t.Errorf("after confirming the page says %q", flash)
	}
	shot(t, ctx, "03-confirmed")

	run(t, ctx, "press d", chromedp.KeyEvent("d"))
	if focused := value(t, ctx, "focus", chromedp.Evaluate[string](`document.activeElement.id`)); focused != "review-reason" {
		t.Errorf("d focused %q, want the reason", focused)
	}
	run(t, ctx, "a reason",
		chromedp.SetValue(chromedp.CSS(`#review-reason`), "replica"),
		chromedp.SendKeys(chromedp.CSS(`#review-note`), "resin carving, seller says so"),
	)
	shot(t, ctx, "04-dismiss-reason")
	run(t, ctx, "submit the dismissal", chromedp.SendKeys(chromedp.CSS(`#review-note`), "\r"))
	at("the third flag after dismissing", fs[2].ID)
	shot(t, ctx, "05-dismissed")

	run(t, ctx, "press ?",
		chromedp.KeyEvent("?"),
		chromedp.WaitVisible(chromedp.CSS(`dialog#ww-help[open]`)),
	)
	if help := text(t, ctx, `dialog#ww-help`); !strings.Contains(help, "Confirm the flag") || !strings.Contains(help, "Dismiss") || !strings.Contains(help, "Send to review") {
		t.Errorf("the shortcuts say %q", help)
	}
	shot(t, ctx, "06-shortcuts")

	// The decisions are in the catalog.
	first, err := st.Catalog.GetFlag(t.Context(), fs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != wildwatch.FlagConfirmed || len(first.Reviews) != 1 || first.Reviews[0].Reviewer != st.Users["monitor"] {
		t.Errorf("first flag: %s, reviews %+v", first.Status, first.Reviews)
	}
	second, err := st.Catalog.GetFlag(t.Context(), fs[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if second.Status != wildwatch.FlagDismissed || len(second.Reviews) != 1 || !strings.Contains(second.Reviews[0].Note, "resin carving, seller says so") {
		t.Errorf("second flag: %s, reviews %+v", second.Status, second.Reviews)
	}
	third, err := st.Catalog.GetFlag(t.Context(), fs[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	if third.Status != wildwatch.FlagNew {
		t.Errorf("the third flag, only looked at, is %s", third.Status)
	}
}

// waitPage waits up to 30 s for the condition cond (JavaScript) to hold in
// the tab, across the page loads a form or a key press starts: while the
// tab navigates, the condition cannot be evaluated and is asked again.
func waitPage(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		try, cancel := context.WithTimeout(ctx, 5*time.Second)
		ok, err := chromedp.Run(try, chromedp.Evaluate[bool](`document.readyState === "complete" && (`+cond+`)`))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			failShot(t, ctx)
			t.Fatalf("%s: %s did not hold within 30 s (last error: %v)", what, cond, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
