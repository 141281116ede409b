package crawler

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
)

// scrollPage loads 20 more items from /more each time it is scrolled to
// the bottom, three times.
const scrollPage = `<!doctype html><html><head><style>
body { margin: 0 } .item { height: 100px }
</style></head><body><div id="list"></div>
<script>
var list = document.getElementById('list'), next = 1, loading = false;
function add(from) {
  for (var i = from; i < from + 20; i++) {
    var d = document.createElement('div');
    d.className = 'item'; d.id = 'item-' + i; d.textContent = 'Grey parrot ' + i;
    list.appendChild(d);
  }
}
add(1);
window.addEventListener('scroll', function () {
  if (loading || next > 3 || innerHeight + scrollY < document.body.scrollHeight - 10) return;
  loading = true;
  fetch('/more?page=' + next).then(function (r) { return r.json(); }).then(function (from) {
    add(from); next++; loading = false;
  });
});
</script></body></html>`

func TestRenderInfiniteScroll(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/search":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, scrollPage)
		case "/more":
			page, _ := strconv.Atoi(r.URL.Query().Get("page"))
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, page*20+1)
		}
	}))
	tg := localTarget(srv, func(t *wildwatch.Target) {
		t.Selectors.ListingLinks = ".item"
		t.Browser.Scroll = true
	})
	c, err := b.Render(t.Context(), tg, srv.URL+"/search", wildwatch.PageIndex)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	for _, id := range []string{"item-1", "item-21", "item-41", "item-80"} {
		if !bytes.Contains(c.Rendered.DOM, []byte(`id="`+id+`"`)) {
			t.Errorf("DOM lacks %s", id)
		}
	}
	if got, want := strings.Join(srv.paths(), " "), "/search /more?page=1 /more?page=2 /more?page=3"; got != want {
		t.Errorf("server was asked %q, want %q", got, want)
	}
	if len(c.Rendered.Warnings) != 0 {
		t.Errorf("warnings %q", c.Rendered.Warnings)
	}
	if string(c.Body) != scrollPage {
		t.Errorf("Body is not the page as served")
	}
}

func TestRenderWaits(t *testing.T) {
	t.Parallel()
	b := testBrowser(t)
	srv := newTestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/forever.png":
			// Never answers while the page is open.
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
		case "/hanging":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><html><body><h1>Ivory netsuke</h1><img src="/forever.png"></body></html>`)
		case "/index":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><html><body><div id="results"></div><script>
setTimeout(function () {
  document.getElementById('results').innerHTML = '<a class="item" href="/item/1">Pangolin scales</a>';
}, 400);
</script></body></html>`)
		default:
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, delayedPage)
		}
	}))
	short := wildwatch.Duration(700 * time.Millisecond)
	tests := []struct {
		name     string
		path     string
		kind     string
		browser  wildwatch.BrowserSettings
		inDOM    string
		warnings []string // prefixes
	}{
		{"listing waits for its title", "/item", wildwatch.PageListing,
			wildwatch.BrowserSettings{}, "Carved ivory bangle", nil},
		{"index waits for its listing links", "/index", wildwatch.PageIndex,
			wildwatch.BrowserSettings{}, `<a class="item" href="/item/1">`, nil},
		{"wait selector never there", "/item", wildwatch.PageListing,
			wildwatch.BrowserSettings{WaitSelector: "#never", MaxWait: short}, "static text",
			[]string{`selector "#never" did not appear within 700ms`}},
		{"load, then extra wait", "/item", wildwatch.PageListing,
			wildwatch.BrowserSettings{Wait: wildwatch.WaitLoad, ExtraWait: wildwatch.Duration(time.Second)}, "Carved ivory bangle", nil},
		{"never-finishing resource, network idle", "/hanging", wildwatch.PageListing,
			wildwatch.BrowserSettings{Wait: wildwatch.WaitNetworkIdle, MaxWait: short}, "Ivory netsuke",
			[]string{"network not idle within 700ms (1 requests in flight)"}},
		{"never-finishing resource, load", "/hanging", wildwatch.PageListing,
			wildwatch.BrowserSettings{Wait: wildwatch.WaitLoad, MaxWait: short}, "Ivory netsuke",
			[]string{"load event did not fire within 700ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tg := localTarget(srv, func(t *wildwatch.Target) {
				t.Selectors.ListingLinks = "a.item"
				t.Browser = tt.browser
			})
			c, err := b.Render(t.Context(), tg, srv.URL+tt.path, tt.kind)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if !bytes.Contains(c.Rendered.DOM, []byte(tt.inDOM)) {
				t.Errorf("DOM lacks %q:\n%s", tt.inDOM, c.Rendered.DOM)
			}
			if len(c.Rendered.Warnings) != len(tt.warnings) {
				t.Errorf("warnings %q, want %q", c.Rendered.Warnings, tt.warnings)
			}
			for _, w := range tt.warnings {
				if !hasPrefix(c.Rendered.Warnings, w) {
					t.Errorf("warnings %q lack %q", c.Rendered.Warnings, w)
				}
			}
		})
	}
}
