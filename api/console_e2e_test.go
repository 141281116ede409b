package api_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console's end-to-end tests drive it in real headless Chromium.
// Each saves a screenshot of every step under the test's artifact
// directory: `go test -artifacts ./api` (make test does) keeps them in
// ./_artifacts (the -outputdir) for people to look at.

// chrome opens a headless Chromium tab for the test, 1366x900 (a laptop).
func chrome(t *testing.T) context.Context {
	t.Helper()
	var exe string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			exe = p
			break
		}
	}
	if exe == "" {
		t.Fatal("no chromium on PATH (make chromium installs it)")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.WindowSize(1366, 900),
		chromedp.Flag("lang", "en-US"))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(cancelTab)
	// The tab's first action runs on its long-lived context.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// browse opens Chromium signed in, through the sign-in form, as the
// stack's user of role.
func (st *consoleStack) browse(t *testing.T, role string) context.Context {
	t.Helper()
	ctx := chrome(t)
	run(t, ctx, "sign in",
		chromedp.Navigate(st.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=user]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=user]`), st.Users[role]),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), st.Password),
		chromedp.Click(chromedp.CSS(`form:has(input[name=password]) button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`header.top`)),
	)
	return ctx
}

// run runs steps within a minute, failing the test with what it was
// doing.
func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		failShot(t, ctx)
		t.Fatalf("%s: %v", what, err)
	}
}

// failShot saves what the tab shows when a step failed, and its URL.
func failShot(t *testing.T, tab context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(tab), 10*time.Second)
	defer cancel()
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		t.Logf("the tab was at %s", loc)
	}
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		p := filepath.Join(t.ArtifactDir(), "failed.png")
		if os.WriteFile(p, png, 0o644) == nil {
			t.Logf("screenshot of the failure: %s", p)
		}
	}
}

// value runs one action that returns a value, within a minute.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// text returns the visible text of the first element sel matches.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return value(t, ctx, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// shot saves a full-page screenshot of the tab as TEST-NAME.png in the
// test's artifact directory and returns its path.
func shot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	png := value(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	// The artifact directory's name is a number: the file says which test
	// and step it shows.
	p := filepath.Join(t.ArtifactDir(), strings.ReplaceAll(t.Name(), "/", "_")+"-"+name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", p)
	return p
}

func TestConsoleE2ESignIn(t *testing.T) {
	st := stack(t)
	ctx := st.browse(t, "monitor")
	who := text(t, ctx, "header.top .me span")
	if want := st.Users["monitor"]; !strings.Contains(who, want) {
		t.Errorf("header says %q, want the user %s", who, want)
	}
	shot(t, ctx, "dashboard")
}
