package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wildwatch/wildwatch/api"
	"github.com/wildwatch/wildwatch/crawler"
)

// TestConsoleE2EAdmin walks an admin's main path in Chromium: a target's
// selectors tested on the demo site, a YAML error saved and shown at its
// line, fixed and saved; a rule set backtested; a user and a token made.
// The target (adm-e2e), rule set (adm-e2e-rules), user and token are this
// test's own.
func TestConsoleE2EAdmin(t *testing.T) {
	st := stack(t)
	bg := context.Background()
	_, demoSrc, err := st.Catalog.GetTarget(bg, "demo")
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(demoSrc), "name: demo\n", "name: adm-e2e\n", 1)
	tg, err := crawler.ParseTarget("adm-e2e.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Catalog.PutTarget(bg, tg, []byte(src)); err != nil {
		t.Fatal(err)
	}
	rv, _, err := st.Catalog.PutRuleSet(bg, "adm-e2e-rules", []byte(admRules("adm-e2e-rules", "0.5")), "test", "flag at 0.5")
	if err != nil {
		t.Fatal(err)
	}
	ctx := chrome(t)
	run(t, ctx, "sign in",
		chromedp.Navigate(st.URL+"/login?next=/admin/targets"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=user]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=user]`), st.Users[api.RoleAdmin]),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), st.Password),
		chromedp.Click(chromedp.CSS(`form:has(input[name=password]) button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`header.top`)),
	)
	run(t, ctx, "targets",
		chromedp.WaitVisible(chromedp.CSS(`a[href="/admin/targets/adm-e2e"]`)),
		chromedp.Click(chromedp.CSS(`a[href="/admin/targets/adm-e2e"]`)),
		chromedp.WaitVisible(chromedp.CSS(`textarea#source`)),
	)
	shot(t, ctx, "01-target")

	run(t, ctx, "test selectors",
		chromedp.Click(chromedp.CSS(`button#probe`)),
		chromedp.WaitVisible(chromedp.CSS(`#probe-result`)),
	)
	links := text(t, ctx, `#probe-result h3`)
	if !strings.HasPrefix(links, "Listing links (") || strings.HasPrefix(links, "Listing links (0)") {
		t.Errorf("the selector test found %q", links)
	}
	shot(t, ctx, "02-test-selectors")

	// A typo in a key: the error is shown at its line, nothing is stored.
	at := lineOf(t, src, "  next_page:")
	bad := strings.Replace(src, "  next_page:", "  next_pgae:", 1)
	run(t, ctx, "save with an error",
		chromedp.SetValue(chromedp.CSS(`textarea#source`), bad),
		chromedp.Click(chromedp.CSS(`button#save`)),
		chromedp.WaitVisible(chromedp.CSS(`.admin-problem .admin-line.bad`)),
	)
	if got := text(t, ctx, `.admin-problem .admin-line.bad`); !strings.HasPrefix(strings.TrimSpace(got), fmt.Sprint(at)) || !strings.Contains(got, "next_pgae") {
		t.Errorf("the marked line is %q, want line %d", got, at)
	}
	if _, stored, _ := st.Catalog.GetTarget(bg, "adm-e2e"); string(stored) != src {
		t.Error("a target with an error was stored")
	}
	shot(t, ctx, "03-yaml-error")

	fixed := strings.Replace(src, "max_pages: 50", "max_pages: 40", 1)
	run(t, ctx, "fix and save",
		chromedp.SetValue(chromedp.CSS(`textarea#source`), fixed),
		chromedp.Click(chromedp.CSS(`button#save`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash.ok`)),
	)
	if _, stored, _ := st.Catalog.GetTarget(bg, "adm-e2e"); string(stored) != fixed {
		t.Error("the fixed target was not stored as typed")
	}
	shot(t, ctx, "04-saved")

	run(t, ctx, "the rule set",
		chromedp.Navigate(fmt.Sprintf("%s/admin/rules/adm-e2e-rules?version=%d", st.URL, rv.Version)),
		chromedp.WaitVisible(chromedp.CSS(`textarea#source`)),
	)
	shot(t, ctx, "05-rule-set")
	run(t, ctx, "backtest",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/admin/rules/adm-e2e-rules/backtest?version=%d"]`, rv.Version))),
		chromedp.WaitVisible(chromedp.CSS(`table.admin-backtest`)),
	)
	if n := value(t, ctx, "changed rows", chromedp.Evaluate[int](`document.querySelectorAll("tr.admin-changed").length`)); n == 0 {
		t.Error("the backtest shows no category that changes")
	}
	shot(t, ctx, "06-backtest")

	run(t, ctx, "create a user",
		chromedp.Navigate(st.URL+"/admin/users"),
		chromedp.WaitVisible(chromedp.CSS(`#user-create`)),
		chromedp.SendKeys(chromedp.CSS(`#user-create input[name=name]`), "adm-e2e-user"),
		chromedp.SetValue(chromedp.CSS(`#user-create select[name=role]`), "investigator"),
		chromedp.SendKeys(chromedp.CSS(`#user-create input[name=password]`), "a long e2e password"),
		chromedp.SendKeys(chromedp.CSS(`#user-create input[name=password2]`), "a long e2e password"),
		chromedp.Click(chromedp.CSS(`#user-create button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#user-adm-e2e-user`)),
	)
	if !st.canSignIn(t, "adm-e2e-user", "a long e2e password") {
		t.Error("the user made in the browser cannot sign in")
	}
	run(t, ctx, "create a token",
		chromedp.SendKeys(chromedp.CSS(`#token-create input[name=name]`), "adm-e2e-token"),
		chromedp.Click(chromedp.CSS(`#token-create button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.admin-secret #secret`)),
	)
	secret := strings.TrimSpace(text(t, ctx, `.admin-secret #secret`))
	if code, p := st.whoami(t, secret); code != http.StatusOK || p.Name != "adm-e2e-token" {
		t.Errorf("the token shown does not work: %d %+v", code, p)
	}
	shot(t, ctx, "07-user-and-token")
}
