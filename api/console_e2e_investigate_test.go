package api_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/wildwatch/wildwatch/api"
)

// TestConsoleE2EInvestigator drives an investigator's main path in
// Chromium: search listings by a seller, open the seller's page, open a
// case, add two flags, export the bundle, make a share link and copy it,
// and read the bundle's custody log. It makes its own case and reviews
// nothing.
func TestConsoleE2EInvestigator(t *testing.T) {
	st := stack(t)
	_, seller := investigateSeller(t, st)
	flags := demoFlags(t, st, 2)
	ctx := st.browse(t, api.RoleInvestigator)

	run(t, ctx, "search listings by seller",
		chromedp.Navigate(st.URL+"/listings"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=q]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=q]`), seller),
		chromedp.Click(chromedp.CSS(`form[role=search] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr.inv-listing a.inv-seller`)),
	)
	shot(t, ctx, "01-search")
	if got := text(t, ctx, `tr.inv-listing a.inv-seller`); !strings.EqualFold(got, seller) && !strings.Contains(strings.ToLower(text(t, ctx, "table.inv-results")), strings.ToLower(seller)) {
		t.Errorf("first result's seller %q, searched %q", got, seller)
	}

	run(t, ctx, "open the seller page",
		chromedp.Click(chromedp.CSS(`tr.inv-listing a.inv-seller`)),
		chromedp.WaitVisible(chromedp.CSS(`.inv-count-here`)),
	)
	shot(t, ctx, "02-seller")
	if h := text(t, ctx, "h1"); !strings.Contains(h, seller) {
		t.Errorf("seller page heading %q lacks %q", h, seller)
	}

	run(t, ctx, "create a case",
		chromedp.Navigate(st.URL+"/cases"),
		chromedp.WaitVisible(chromedp.CSS(`form.inv-new-case input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(`form.inv-new-case input[name=name]`), "Seller "+seller+" (browser test)"),
		chromedp.SendKeys(chromedp.CSS(`form.inv-new-case textarea[name=notes]`), "Listings found by seller search."),
		chromedp.Click(chromedp.CSS(`form.inv-new-case button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`h1.inv-case-name`)),
	)
	shot(t, ctx, "03-case")

	run(t, ctx, "add two flags",
		chromedp.SendKeys(chromedp.CSS(`form.inv-add-ids input[name=ids]`), flags[0].ID+", "+flags[1].ID),
		chromedp.Click(chromedp.CSS(`form.inv-add-ids button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.inv-case-flags tr[data-flag="`+flags[1].ID+`"]`)),
	)
	shot(t, ctx, "04-flags")
	n := value(t, ctx, "count case flags", chromedp.Evaluate[int](`document.querySelectorAll("table.inv-case-flags tr.inv-flag").length`))
	if n != 2 {
		t.Errorf("case shows %d flags, want 2", n)
	}

	run(t, ctx, "export the bundle",
		chromedp.Click(chromedp.CSS(`form.inv-export button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.inv-bundle-new a.inv-download`)),
	)
	shot(t, ctx, "05-exported")

	run(t, ctx, "create a share link",
		chromedp.SetValue(chromedp.CSS(`.inv-bundle-new select[name=expires]`), "1h"),
		chromedp.Click(chromedp.CSS(`.inv-bundle-new form.inv-share button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`input.inv-link-url`)),
	)
	link := value(t, ctx, "share link", chromedp.Value(chromedp.CSS(`input.inv-link-url`)))
	if !strings.HasPrefix(link, st.URL+"/links/") {
		t.Errorf("share link %q", link)
	}
	shot(t, ctx, "06-link")
	run(t, ctx, "copy the link",
		chromedp.Click(chromedp.CSS(`button[data-copy]`)),
	)
	copied := value(t, ctx, "copy button", chromedp.Evaluate[string](`new Promise(function (done) {
		var b = document.querySelector("button[data-copy]"), n = 0;
		(function wait() { if (b.textContent === b.getAttribute("data-copied") || ++n > 50) done(b.textContent); else setTimeout(wait, 20); })();
	})`, chromedp.EvalAwaitPromise))
	shot(t, ctx, "07-copied")
	if copied != "Copied" {
		t.Errorf("copy button says %q after the click, want Copied", copied)
	}

	run(t, ctx, "open the bundle's custody log",
		chromedp.Click(chromedp.CSS(`.inv-link a[href^="/custody"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.inv-custody`)),
	)
	shot(t, ctx, "08-custody")
	log := text(t, ctx, "table.inv-custody")
	for _, action := range []string{"bundle-create", "link-create"} {
		if !strings.Contains(log, action) {
			t.Errorf("custody log of the bundle lacks %s:\n%s", action, log)
		}
	}
}
