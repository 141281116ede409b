package demosite

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestJSShells checks that a static fetch of the JavaScript section finds
// nothing the demo target's selectors look for.
func TestJSShells(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sel := parseTarget(t, TargetYAML(b.srv.URL)).Selectors
	paths := []string{jsSearchPath}
	for _, l := range b.site.cat.js() {
		paths = append(paths, l.Path)
	}
	for _, p := range paths {
		resp, body := b.get(t, http.MethodGet, p)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Errorf("%s: status %d, Content-Type %q", p, resp.StatusCode, resp.Header.Get("Content-Type"))
			continue
		}
		doc := parseHTML(t, body)
		for _, s := range []string{sel.ListingLinks, sel.NextPage, sel.Fields.Title, sel.Fields.Description, sel.Fields.Price,
			sel.Fields.Currency, sel.Fields.Seller, sel.Fields.Location, sel.Fields.Images} {
			if n := doc.Find(s).Length(); n != 0 {
				t.Errorf("%s: static HTML has %d elements matching %q", p, n, s)
			}
		}
		if staticFinds(doc, sel) {
			t.Errorf("%s: auto mode would not render it", p)
		}
	}
}

func TestJSSearchAPI(t *testing.T) {
	t.Parallel()
	b := setup(t)
	js := b.site.cat.js()
	n := len(js)
	tests := []struct {
		query         string
		status        int
		first, count  int
		next          int // -1 means null
		wantErrorBody bool
	}{
		{"", 200, 0, JSBatch, JSBatch, false},
		{"?offset=0", 200, 0, JSBatch, JSBatch, false},
		{"?offset=3", 200, 3, JSBatch, 3 + JSBatch, false},
		{"?offset=" + strconv.Itoa(n-2), 200, n - 2, 2, -1, false},
		{"?offset=" + strconv.Itoa(n), 200, n, 0, -1, false},
		{"?offset=" + strconv.Itoa(n+1), 404, 0, 0, 0, true},
		{"?offset=-1", 400, 0, 0, 0, true},
		{"?offset=ten", 400, 0, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			if tt.wantErrorBody {
				var e map[string]string
				if resp := getJSON(t, b, apiSearchPath+tt.query, &e); resp.StatusCode != tt.status || e["error"] == "" {
					t.Errorf("status %d, body %v; want %d with an error", resp.StatusCode, e, tt.status)
				}
				return
			}
			var p jsSearchPage
			if resp := getJSON(t, b, apiSearchPath+tt.query, &p); resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if p.Total != n || p.Offset != tt.first || len(p.Results) != tt.count || p.Results == nil {
				t.Errorf("total %d offset %d, %d results; want %d, %d, %d", p.Total, p.Offset, len(p.Results), n, tt.first, tt.count)
			}
			if got := p.Next; (tt.next < 0) != (got == nil) || (got != nil && *got != tt.next) {
				t.Errorf("next %v, want %d", got, tt.next)
			}
			for i, r := range p.Results {
				l := js[tt.first+i]
				want := jsResult{Href: l.Path, Title: l.Title, Price: l.Price, Currency: l.Currency, Location: l.Location}
				if r != want {
					t.Errorf("result %d: %+v, want %+v", tt.first+i, r, want)
				}
			}
		})
	}
}

// TestJSListingPages checks that each JS listing page's shell and the item
// API together show the listing, and that JS listings are nowhere else.
func TestJSListingPages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	static := withRole(t, b.site, roleNone)
	for _, want := range b.site.cat.js() {
		resp, body := b.get(t, http.MethodGet, want.Path)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", want.Path, resp.StatusCode)
			continue
		}
		doc := parseHTML(t, body)
		if lang, _ := doc.Find("html").Attr("lang"); lang != want.Lang {
			t.Errorf("%s: shell lang %q, want %q", want.Path, lang, want.Lang)
		}
		got, ok := renderListing(t, b, doc)
		if frozen := b.site.cat.roles[want.ID] == roleFreeze; ok == frozen {
			t.Errorf("%s: renders %v, role %d", want.Path, ok, b.site.cat.roles[want.ID])
		}
		if ok && (got.ID != want.ID || !sameFields(got, want)) {
			t.Errorf("%s: item API\n%+v\nwant\n%+v", want.Path, got, want)
		}
		for _, p := range []string{"/item/" + want.ID, "/go/" + want.ID, "/private/item/" + want.ID} {
			if resp, _ := b.get(t, http.MethodGet, p); resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", p, resp.StatusCode)
			}
		}
	}
	for _, p := range []string{jsItemPrefix + static.ID, jsItemPrefix + "1"} {
		if resp, _ := b.get(t, http.MethodGet, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", p, resp.StatusCode)
		}
	}
	for _, p := range []string{apiItemPrefix + static.ID, apiItemPrefix + "1"} {
		var e map[string]string
		if resp := getJSON(t, b, p, &e); resp.StatusCode != http.StatusNotFound || e["error"] == "" {
			t.Errorf("%s: status %d, body %v; want 404 with an error", p, resp.StatusCode, e)
		}
	}
}

// TestScripts checks that the scripts are served and build the elements
// the demo target's selectors read, from the paths the tests read.
func TestScripts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	f := parseTarget(t, TargetYAML(b.srv.URL)).Selectors.Fields
	var builds []string
	for _, sel := range []string{f.Title, f.Description, f.Price, f.Currency, f.Seller, f.Location, f.Images} {
		tag, class, ok := strings.Cut(sel, ".")
		if !ok {
			t.Fatalf("selector %q is not tag.class", sel)
		}
		builds = append(builds, `el("`+tag+`", "`+class+`"`)
	}
	tests := []struct {
		path string
		want []string
	}{
		{searchJSPath, []string{`fetch("` + apiSearchPath + `?offset=" + next)`, `createElement("a")`,
			`className = "listing-link"`, "page.next", `addEventListener("scroll"`, "IntersectionObserver"}},
		{itemJSPath, append(builds, `fetch("`+apiItemPrefix+`" + encodeURIComponent(id))`, `getAttribute("data-id")`,
			"}, "+strconv.FormatInt(jsItemDelay.Milliseconds(), 10)+");")},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := b.get(t, http.MethodGet, tt.path)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
				t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			for _, w := range tt.want {
				if !strings.Contains(string(body), w) {
					t.Errorf("script lacks %s", w)
				}
			}
		})
	}
}

// TestFreezePage checks the page whose script freezes the tab: it spins
// before the listing's own delay ends, so the listing never shows.
func TestFreezePage(t *testing.T) {
	t.Parallel()
	b := setup(t)
	l := withRole(t, b.site, roleFreeze)
	if !l.JS || l.Label != LabelPositive || l.Reachable || slices.Contains(b.site.Truth(b.srv.URL), b.srv.URL+l.Path) {
		t.Errorf("the freezing page should be an unreachable JS positive outside Truth: %+v", l)
	}
	_, body := b.get(t, http.MethodGet, l.Path)
	doc := parseHTML(t, body)
	if !freezes(doc) {
		t.Fatalf("%s does not freeze:\n%s", l.Path, body)
	}
	spin := "for(;;){} }, " + strconv.FormatInt(freezeDelay.Milliseconds(), 10) + ");"
	if !strings.Contains(doc.Find("head script").Text(), spin) || freezeDelay >= jsItemDelay {
		t.Errorf("the tab should freeze after %v, before the listing shows after %v", freezeDelay, jsItemDelay)
	}
	for _, other := range b.site.cat.js() {
		if other.ID == l.ID {
			continue
		}
		if _, body := b.get(t, http.MethodGet, other.Path); strings.Contains(string(body), "for(;;)") {
			t.Errorf("%s freezes too", other.Path)
		}
	}
}

// TestHangPage checks the page that never finishes loading: it shows its
// listing, and its banner image never answers until the client gives up.
func TestHangPage(t *testing.T) {
	t.Parallel()
	arrived, released := make(chan struct{}), make(chan struct{})
	// The limit only keeps a broken handler from holding srv.Close forever;
	// the test waits at most 10s for the handler to end.
	site := New(Config{HangLimit: 30 * time.Second, Log: func(r *http.Request) {
		if strings.HasPrefix(r.URL.Path, hangPrefix) {
			close(arrived)
		}
	}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		site.ServeHTTP(w, r)
		if strings.HasPrefix(r.URL.Path, hangPrefix) {
			close(released)
		}
	}))
	t.Cleanup(srv.Close)
	b := &testBundle{site: site, srv: srv, client: srv.Client()}

	l := withRole(t, site, roleHang)
	if !l.JS || l.Label != LabelPositive || !l.Reachable || !slices.Contains(site.Truth(srv.URL), srv.URL+l.Path) {
		t.Errorf("the page that never finishes loading should be a reachable JS positive in Truth: %+v", l)
	}
	_, body := b.get(t, http.MethodGet, l.Path)
	doc := parseHTML(t, body)
	if got, ok := renderListing(t, b, doc); !ok || !sameFields(got, l) {
		t.Errorf("the page shows %+v, want %+v", got, l)
	}
	banner, _ := doc.Find("img.banner").Attr("src")
	if !strings.HasPrefix(banner, hangPrefix) {
		t.Fatalf("banner %q is not under %s", banner, hangPrefix)
	}
	if n := strings.Count(string(body), hangPrefix); n != 1 {
		t.Errorf("the page names %d hanging resources, want 1", n)
	}

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+banner, nil)
		if err == nil {
			var resp *http.Response
			if resp, err = srv.Client().Do(req); err == nil {
				resp.Body.Close()
				err = errors.New("answered " + resp.Status)
			}
		}
		errc <- err
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the banner request never reached the site")
	}
	select {
	case err := <-errc:
		t.Fatalf("the banner request ended before the client gave up: %v", err)
	case <-released:
		t.Fatal("the banner handler returned before the client gave up")
	default:
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client error %v, want context.Canceled", err)
	}
	select {
	case <-released:
	case <-time.After(10 * time.Second):
		t.Fatal("the banner handler still runs after the client gave up")
	}
	for _, other := range site.cat.js() {
		if _, body := b.get(t, http.MethodGet, other.Path); other.ID != l.ID && strings.Contains(string(body), hangPrefix) {
			t.Errorf("%s hangs too", other.Path)
		}
	}
}

func TestHangGivesUpWhenTheClientDoes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limit  time.Duration
		cancel bool
		status int
	}{
		{"client gives up", -1, true, 0},
		{"client gives up before the limit", time.Hour, true, 0},
		{"limit", time.Millisecond, false, http.StatusGatewayTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := New(Config{HangLimit: tt.limit})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tt.cancel {
				cancel()
			}
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, hangPrefix+"x.png", nil)
			rec := httptest.NewRecorder()
			done := make(chan struct{})
			go func() {
				defer close(done)
				s.ServeHTTP(rec, req)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("hang handler still waiting")
			}
			switch {
			case tt.status == 0 && (rec.Body.Len() != 0 || len(rec.Header()) != 0):
				t.Errorf("a request its client gave up on got an answer: %v %q", rec.Header(), rec.Body.String())
			case tt.status != 0 && rec.Code != tt.status:
				t.Errorf("status %d, want %d", rec.Code, tt.status)
			}
		})
	}
}
