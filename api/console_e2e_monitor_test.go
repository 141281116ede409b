package api_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/wildwatch/wildwatch"
)

// TestConsoleE2EMonitor walks a monitor's main path in Chromium: the
// dashboard with its charts, a sweep started from it whose progress the
// page follows by itself, paused, resumed and finished, and its page. The
// sweep is of monitor-e2e, a copy of the demo target no other test uses.
func TestConsoleE2EMonitor(t *testing.T) {
	st := stack(t)
	applyDemoCopy(t, st, "monitor-e2e", "-1")
	ctx := st.browse(t, "monitor")

	run(t, ctx, "dashboard",
		chromedp.Navigate(st.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#chart-flags svg rect`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-target="monitor-e2e"] button.mon-start`)),
	)
	if title := text(t, ctx, `#chart-flags h3`); !strings.Contains(title, "Flags per day") {
		t.Errorf("the flags chart is titled %q", title)
	}
	shot(t, ctx, "01-dashboard")

	run(t, ctx, "start a sweep",
		chromedp.Click(chromedp.CSS(`tr[data-target="monitor-e2e"] button.mon-start`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash.ok`)),
	)
	sw, err := st.Catalog.LatestSweep(t.Context(), "monitor-e2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = st.Client.CancelSweep(context.Background(), sw.ID, "test over") })
	card := `#live [data-sweep="` + sw.ID + `"]`
	run(t, ctx, "the new sweep on the dashboard", chromedp.WaitVisible(chromedp.CSS(card)))
	shot(t, ctx, "02-started")

	// The counts change without the page being loaded again: a mark left
	// on the page survives.
	counts := `(() => { const el = document.querySelector(` + strconv.Quote(card+` .mon-counts`) +
		`); return el ? Array.from(el.querySelectorAll("dd")).map(d => d.textContent.trim()).join(" ") : "" })()`
	before := value(t, ctx, "counts", chromedp.Evaluate[string](counts))
	value(t, ctx, "mark the page", chromedp.Evaluate[int](`window.monitorMark = 1`))
	run(t, ctx, "live progress",
		chromedp.Poll[chromedp.Void](`(() => { const c = `+counts+`; return c !== "" && c !== `+strconv.Quote(before)+` })()`,
			chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(50*time.Second)),
	)
	if mark := value(t, ctx, "the mark", chromedp.Evaluate[int](`window.monitorMark || 0`)); mark != 1 {
		t.Fatal("the page was loaded again to show progress")
	}
	after := value(t, ctx, "counts", chromedp.Evaluate[string](counts))
	t.Logf("progress without reload: pages listings new changed unchanged removed captures flags errors %q → %q", before, after)
	shot(t, ctx, "03-progress")

	run(t, ctx, "pause",
		chromedp.Click(chromedp.CSS(card+` button.mon-pause`)),
		chromedp.WaitVisible(chromedp.CSS(card+`[data-status="paused"]`)),
	)
	if got := sweepStatus(t, st, sw.ID); got != wildwatch.SweepPaused {
		t.Fatalf("after pause the sweep is %s", got)
	}
	if reason := text(t, ctx, card+` .mon-reason`); !strings.Contains(reason, "paused by "+st.Users["monitor"]) {
		t.Errorf("the paused sweep's reason is %q", reason)
	}
	shot(t, ctx, "04-paused")

	run(t, ctx, "resume",
		chromedp.Click(chromedp.CSS(card+` button.mon-resume`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash.ok`)),
		chromedp.WaitNotPresent(chromedp.CSS(card+`[data-status="paused"]`)),
	)
	if got := sweepStatus(t, st, sw.ID); got == wildwatch.SweepPaused {
		t.Fatal("after resume the sweep is still paused")
	}
	shot(t, ctx, "05-resumed")

	// The dashboard follows the sweep to its end.
	wait, cancel := context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()
	if err := chromedp.Do(wait, chromedp.WaitVisible(chromedp.CSS(card+`[data-status="finished"]`))); err != nil {
		failShot(t, ctx)
		t.Fatalf("the sweep did not finish on the dashboard (catalog: %s): %v", sweepStatus(t, st, sw.ID), err)
	}
	shot(t, ctx, "06-finished")

	run(t, ctx, "open the sweep",
		chromedp.Click(chromedp.CSS(card+` h3 a`)),
		chromedp.WaitVisible(chromedp.CSS(`#sweep-live .badge.finished`)),
	)
	final, err := st.Catalog.GetSweep(t.Context(), sw.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, `#sweep-live [data-count="captures"]`); got != strconv.Itoa(final.Counts.Captures) {
		t.Errorf("the sweep page shows %s captures, the catalog %d", got, final.Counts.Captures)
	}
	if final.Counts.Captures == 0 || final.Counts.Parked != 0 {
		t.Errorf("the resumed sweep captured %d listings and left %d tasks parked", final.Counts.Captures, final.Counts.Parked)
	}
	href := value(t, ctx, "flags link", chromedp.AttributeValue(chromedp.CSS(`a.button[href^="/flags"]`), "href"))
	if href.Value != "/flags?sweep="+sw.ID {
		t.Errorf("the sweep page links its flags at %q", href.Value)
	}
	shot(t, ctx, "07-sweep")
}
