package crawler

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// blockedPage is a page of testdata/blocked: blocked-<status>-<name>.html
// is a block page served with that status, page-<status>-<name>.html a page
// that is not one.
type blockedPage struct {
	name    string
	status  int
	blocked bool
	body    []byte
}

func blockedPages(t *testing.T) []blockedPage {
	t.Helper()
	files, err := filepath.Glob("testdata/blocked/*.html")
	if err != nil || len(files) == 0 {
		t.Fatalf("no block pages in testdata/blocked: %v", err)
	}
	var pages []blockedPage
	for _, f := range files {
		parts := strings.SplitN(strings.TrimSuffix(filepath.Base(f), ".html"), "-", 3)
		status, err := strconv.Atoi(parts[1])
		if len(parts) != 3 || err != nil || (parts[0] != "blocked" && parts[0] != "page") {
			t.Fatalf("%s: name is not blocked|page-<status>-<name>.html", f)
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, blockedPage{name: filepath.Base(f), status: status, blocked: parts[0] == "blocked", body: body})
	}
	return pages
}

// servePages serves each page at /<name> with its status.
func servePages(t *testing.T, pages []blockedPage) *testServer {
	t.Helper()
	byName := make(map[string]blockedPage)
	for _, p := range pages {
		byName["/"+p.name] = p
	}
	return newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := byName[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(p.status)
		w.Write(p.body)
	}))
}

func TestFetchBlockedDefaults(t *testing.T) {
	t.Parallel()
	for _, p := range blockedPages(t) {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			srv := servePages(t, []blockedPage{p})
			// A fetcher each: a block page holds its host back.
			f := newFetcher(t, Config{})
			c, err := f.Fetch(t.Context(), localTarget(srv), srv.URL+"/"+p.name)
			if c == nil || c.Status != p.status || string(c.Body) != string(p.body) {
				t.Fatalf("capture %v, want the page as served with status %d", c, p.status)
			}
			if !p.blocked {
				if err != nil && fetchError(t, err).Kind == wildwatch.ErrKindBlocked {
					t.Errorf("not a block page, but: %v", err)
				}
				if p.status == http.StatusOK && err != nil {
					t.Errorf("error %v for a working page", err)
				}
				return
			}
			fe := fetchError(t, err)
			if fe.Kind != wildwatch.ErrKindBlocked || fe.Status != p.status || !fe.Retryable || fe.RetryAfter < BlockedBackoff {
				t.Fatalf("error %v (%+v), want blocked, retryable after %v at least", err, fe, BlockedBackoff)
			}
			// The host is left alone: the next fetch fails at once.
			asked := len(srv.paths())
			_, err = f.Fetch(t.Context(), localTarget(srv), srv.URL+"/other")
			if fe := fetchError(t, err); fe.Kind != wildwatch.ErrKindThrottled || fe.RetryAfter < BlockedBackoff-time.Minute {
				t.Errorf("fetch after the block page: %v (%+v), want throttled for about %v", err, fe, BlockedBackoff)
			}
			if got := srv.paths(); len(got) != asked {
				t.Errorf("the host was asked %v after a block page", got[asked:])
			}
		})
	}
}

func TestFetchBlockedOwnPatterns(t *testing.T) {
	t.Parallel()
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/legal":
			w.WriteHeader(http.StatusUnavailableForLegalReasons)
			fmt.Fprint(w, "<h1>Not here</h1>")
		case "/says-no":
			fmt.Fprint(w, "<h1>Item</h1><p>The shop   SAYS no to robots.</p>")
		case "/wall":
			fmt.Fprint(w, `<h1>Item</h1><div id="wall">please wait</div>`)
		case "/challenge":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<title>Just a moment...</title><div id="challenge-running">checking</div>`)
		default:
			fmt.Fprint(w, "<h1>Item</h1>")
		}
	}))
	tests := []struct {
		name    string
		blocked wildwatch.BlockedPage
		path    string
		want    bool
	}{
		{"status alone", wildwatch.BlockedPage{Status: []int{451}}, "/legal", true},
		{"text on any status", wildwatch.BlockedPage{Text: []string{"shop says no"}}, "/says-no", true},
		{"selector with status", wildwatch.BlockedPage{Status: []int{200}, Selector: "#wall"}, "/wall", true},
		{"selector, other status", wildwatch.BlockedPage{Status: []int{403}, Selector: "#wall"}, "/wall", false},
		{"plain page", wildwatch.BlockedPage{Text: []string{"shop says no"}, Selector: "#wall"}, "/item", false},
		{"defaults kept", wildwatch.BlockedPage{Selector: "#wall"}, "/challenge", true},
		{"defaults left out", wildwatch.BlockedPage{Selector: "#wall", NoDefaults: true}, "/challenge", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg := localTarget(srv, func(t *wildwatch.Target) { t.Politeness.Blocked = &tt.blocked })
			c, err := newFetcher(t, Config{}).Fetch(t.Context(), tg, srv.URL+tt.path)
			var kind string
			if err != nil {
				kind = fetchError(t, err).Kind
			}
			if got := kind == wildwatch.ErrKindBlocked; got != tt.want || c == nil {
				t.Errorf("%s: capture %v, error %v; want blocked %v and the capture", tt.path, c != nil, err, tt.want)
			}
		})
	}
}

// TestBlockHints checks that the quick look at the raw HTML never decides
// otherwise than parsing every page would, and that the defaults have it.
func TestBlockHints(t *testing.T) {
	t.Parallel()
	rules := defaultBlockRules()
	if len(rules) != len(wildwatch.DefaultBlockedPages) {
		t.Fatalf("%d default rules compiled, want %d", len(rules), len(wildwatch.DefaultBlockedPages))
	}
	unhinted := make(blockRules, len(rules))
	for i, r := range rules {
		if r.hints == nil {
			t.Errorf("default rule %d has no hints: every page would be parsed", i)
		}
		unhinted[i] = r
		unhinted[i].hints = nil
	}
	for _, p := range blockedPages(t) {
		got, slow := rules.match(p.status, string(p.body)), unhinted.match(p.status, string(p.body))
		if got != slow {
			t.Errorf("%s: %q with hints, %q without", p.name, got, slow)
		}
		if (got != "") != p.blocked {
			t.Errorf("%s: reason %q, want blocked %v", p.name, got, p.blocked)
		}
	}
	for _, tt := range []struct {
		b    wildwatch.BlockedPage
		want bool // hints derived
	}{
		{wildwatch.BlockedPage{Text: []string{"Vérifiez que vous êtes humain"}}, true},
		{wildwatch.BlockedPage{Text: []string{"请稍候"}}, false},
		{wildwatch.BlockedPage{Selector: "div.wall > p#msg"}, true},
		{wildwatch.BlockedPage{Selector: "div:not(.page)"}, false},
		{wildwatch.BlockedPage{Selector: "iframe"}, false},
	} {
		r, _ := compileBlockRule(tt.b)
		if (r.hints != nil) != tt.want {
			t.Errorf("%+v: hints %q, want some: %v", tt.b, r.hints, tt.want)
		}
	}
}

func TestRemovalIgnoresBlockPages(t *testing.T) {
	t.Parallel()
	tg := wildwatch.Target{Name: "x", AllowedHosts: []string{"shop.example"},
		Selectors: wildwatch.Selectors{ListingLinks: "a", Fields: wildwatch.FieldSelectors{Title: "h1.title"}}}
	body := `<html><body><p>Please complete the security check to go on. This item is no longer available to robots.</p></body></html>`
	c := &wildwatch.Capture{URL: "https://shop.example/item/1", Status: 200, Header: http.Header{"Content-Type": {"text/html"}}, Text: body}
	if got := Removal(tg, c); got != "" {
		t.Errorf("Removal of a block page = %q, want none", got)
	}
	if IsBlocked(tg, c) == "" {
		t.Error("IsBlocked found no block page")
	}
}

func TestParseTargetPoliteness(t *testing.T) {
	t.Parallel()
	const base = `name: shop
allowed_hosts: [shop.example]
start_urls: ["https://shop.example/"]
selectors:
  listing_links: a
  fields:
    title: h1
`
	tg, err := ParseTarget("shop.yaml", []byte(base+`politeness:
  daily_requests: 5000
  blocked:
    status: [403]
    text: ["verify you are human"]
    selector: "#captcha"
`))
	if err != nil {
		t.Fatal(err)
	}
	b := tg.Politeness.Blocked
	if tg.Politeness.DailyRequests != 5000 || b == nil || len(b.Status) != 1 || b.Status[0] != 403 ||
		len(b.Text) != 1 || b.Selector != "#captcha" || b.NoDefaults {
		t.Errorf("politeness = %+v, blocked %+v", tg.Politeness, b)
	}
	for _, tt := range []struct{ yaml, field string }{
		{"politeness:\n  daily_requests: -1\n", "politeness.daily_requests"},
		{"politeness:\n  blocked:\n    status: [99]\n", "politeness.blocked.status[0]"},
		{"politeness:\n  blocked:\n    selector: \"div[\"\n", "politeness.blocked.selector"},
		{"politeness:\n  blocked:\n    text: [\"  \"]\n", "politeness.blocked.text[0]"},
		{"politeness:\n  blocked: {}\n", "politeness.blocked"},
		{"politeness:\n  blocked:\n    texts: [a]\n", "politeness.blocked.texts"},
	} {
		_, err := ParseTarget("shop.yaml", []byte(base+tt.yaml))
		te, ok := err.(*TargetError)
		if !ok || te.Field != tt.field {
			t.Errorf("%q: error %v, want one at %s", tt.yaml, err, tt.field)
		}
	}
}
