package demosite

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// JSBatch is the number of results the JavaScript search page adds each
// time the reader reaches its bottom.
const JSBatch = 10

// jsItemDelay is how long a JS listing page waits, in its script, before it
// asks for its listing.
const jsItemDelay = 300 * time.Millisecond

// freezeDelay is how long the freezing page's script waits before it
// spins; it is shorter than jsItemDelay, so the listing never shows.
const freezeDelay = 100 * time.Millisecond

// Paths of the JavaScript section.
const (
	jsSearchPath  = "/js/search"
	jsItemPrefix  = "/js/item/"
	apiSearchPath = "/api/js/search"
	apiItemPrefix = "/api/js/item/"
	searchJSPath  = "/assets/search.js"
	itemJSPath    = "/assets/item.js"
	hangPrefix    = "/hang/"
)

// jsResult is one result of the search API.
type jsResult struct {
	Href     string `json:"href"`
	Title    string `json:"title"`
	Price    string `json:"price"`
	Currency string `json:"currency"`
	Location string `json:"location"`
}

// jsSearchPage is one answer of the search API. Next is the offset of the
// following batch, null after the last.
type jsSearchPage struct {
	Total   int        `json:"total"`
	Offset  int        `json:"offset"`
	Next    *int       `json:"next"`
	Results []jsResult `json:"results"`
}

// jsListing is the item API's answer: what the listing page shows.
type jsListing struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Price       string   `json:"price"`
	Currency    string   `json:"currency"`
	Seller      string   `json:"seller"`
	Location    string   `json:"location"`
	Lang        string   `json:"lang"`
	Images      []string `json:"images"`
}

type jsItemShell struct {
	ID, Lang string
	// Banner is the path of an image that never answers, or "".
	Banner string
	// Freeze makes the page's script freeze the tab after freezeDelay.
	Freeze bool
}

var (
	jsSearchTmpl = page(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Latest listings – Demo Market</title>
<style>li.result{display:block;min-height:110px;border-bottom:1px solid #ddd}</style></head>
<body>{{template "header"}}
<main class="index js-index">
<h1 class="heading">Latest listings</h1>
<p class="count" id="count"></p>
<ul class="results" id="results"></ul>
<p class="more" id="more">Loading…</p>
<noscript><p class="noscript">This page needs JavaScript.</p></noscript>
</main>
<script src="` + searchJSPath + `"></script>
</body></html>
`)

	jsItemTmpl = page(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>Listing | Demo Market</title>
{{- if .Freeze}}
<script>setTimeout(function () { for(;;){} }, ` + strconv.FormatInt(freezeDelay.Milliseconds(), 10) + `);</script>
{{- end}}
</head>
<body>{{template "header"}}
<main>
<div class="listing-shell" id="listing" data-id="{{.ID}}"><p class="loading">Loading…</p></div>
{{- if .Banner}}
<img class="banner" src="{{.Banner}}" alt="" width="468" height="60">
{{- end}}
<noscript><p class="noscript">This page needs JavaScript.</p></noscript>
</main>
<script src="` + itemJSPath + `"></script>
</body></html>
`)
)

// searchJS fills the JavaScript search page: a batch of results at once,
// the next batch whenever the bottom of the list comes into view, until the
// API says there is no more.
const searchJS = `(function () {
  "use strict";
  var list = document.getElementById("results");
  var more = document.getElementById("more");
  var count = document.getElementById("count");
  var next = 0;
  var loading = false;

  function nearBottom() {
    return more.getBoundingClientRect().top <= window.innerHeight;
  }

  function add(r) {
    var li = document.createElement("li");
    li.className = "result";
    var a = document.createElement("a");
    a.className = "listing-link";
    a.href = r.href;
    a.textContent = r.title;
    var price = document.createElement("span");
    price.className = "result-price";
    price.textContent = r.price + " " + r.currency;
    var place = document.createElement("span");
    place.className = "result-location";
    place.textContent = r.location;
    li.appendChild(a);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(price);
    li.appendChild(document.createTextNode(" "));
    li.appendChild(place);
    list.appendChild(li);
  }

  function load() {
    if (loading || next === null) {
      return;
    }
    loading = true;
    fetch("` + apiSearchPath + `?offset=" + next)
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("status " + resp.status);
        }
        return resp.json();
      })
      .then(function (page) {
        page.results.forEach(add);
        count.textContent = page.total + " listings";
        next = page.next;
        loading = false;
        if (next === null) {
          more.textContent = "All " + page.total + " listings shown.";
          more.className = "more end";
        } else if (nearBottom()) {
          load();
        }
      })
      .catch(function () {
        loading = false;
        more.textContent = "Could not load more listings.";
      });
  }

  window.addEventListener("scroll", function () {
    if (nearBottom()) {
      load();
    }
  }, { passive: true });
  if ("IntersectionObserver" in window) {
    new IntersectionObserver(function (entries) {
      if (entries.some(function (e) { return e.isIntersecting; })) {
        load();
      }
    }).observe(more);
  }
  load();
})();
`

// itemJS fills a JS listing page after a delay, with the same elements and
// classes as a static listing page.
var itemJS = `(function () {
  "use strict";
  var shell = document.getElementById("listing");
  var id = shell.getAttribute("data-id");

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    e.className = cls;
    if (text !== undefined) {
      e.textContent = text;
    }
    return e;
  }

  function line(cls, label, children) {
    var p = el("p", cls);
    p.appendChild(document.createTextNode(label));
    children.forEach(function (c, i) {
      if (i > 0) {
        p.appendChild(document.createTextNode(" "));
      }
      p.appendChild(c);
    });
    return p;
  }

  function show(l) {
    var art = el("article", "listing");
    art.setAttribute("data-id", l.id);
    art.appendChild(el("h1", "title", l.title));
    art.appendChild(line("price-line", "Price: ", [el("span", "price", l.price), el("span", "currency", l.currency)]));
    art.appendChild(line("seller-line", "Seller: ", [el("span", "seller", l.seller)]));
    art.appendChild(line("location-line", "Location: ", [el("span", "location", l.location)]));
    var photos = el("div", "photos");
    l.images.forEach(function (src) {
      var img = el("img", "photo");
      img.src = src;
      img.alt = "photo";
      img.width = 120;
      img.height = 90;
      photos.appendChild(img);
    });
    art.appendChild(photos);
    art.appendChild(el("div", "description", l.description));
    document.documentElement.lang = l.lang;
    document.title = l.title + " | Demo Market";
    shell.parentNode.replaceChild(art, shell);
  }

  setTimeout(function () {
    fetch("` + apiItemPrefix + `" + encodeURIComponent(id))
      .then(function (resp) {
        if (!resp.ok) {
          throw new Error("status " + resp.status);
        }
        return resp.json();
      })
      .then(show)
      .catch(function () {
        shell.textContent = "Could not load the listing.";
      });
  }, ` + strconv.FormatInt(jsItemDelay.Milliseconds(), 10) + `);
})();
`

// jsSearch serves the JavaScript search page: a shell without results.
func (s *Site) jsSearch(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, jsSearchTmpl, nil)
}

// jsItem serves a JS listing page: a shell its script fills in.
func (s *Site) jsItem(w http.ResponseWriter, r *http.Request, id string) {
	l, ok := s.jsListing(id)
	if !ok {
		s.notFound(w, r)
		return
	}
	if how, gone := s.removal(id); gone {
		s.serveRemoved(w, r, how)
		return
	}
	v := jsItemShell{ID: l.ID, Lang: l.Lang}
	switch s.cat.roles[id] {
	case roleHang:
		v.Banner = hangPrefix + l.ID + "-banner.png"
	case roleFreeze:
		v.Freeze = true
	}
	s.render(w, r, http.StatusOK, jsItemTmpl, v)
}

// apiSearch answers the search page's script with one batch of results
// from ?offset=N (default 0).
func (s *Site) apiSearch(w http.ResponseWriter, r *http.Request) {
	js := s.listedJS(s.cat.js())
	offset := 0
	if v := r.URL.Query().Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			s.sendJSON(w, r, http.StatusBadRequest, map[string]string{"error": "bad offset"})
			return
		}
		offset = n
	}
	if offset > len(js) {
		s.sendJSON(w, r, http.StatusNotFound, map[string]string{"error": "offset past the end"})
		return
	}
	p := jsSearchPage{Total: len(js), Offset: offset, Results: []jsResult{}}
	end := min(offset+JSBatch, len(js))
	for _, l := range js[offset:end] {
		p.Results = append(p.Results, jsResult{Href: l.Path, Title: l.Title, Price: l.Price,
			Currency: l.Currency, Location: l.Location})
	}
	if end < len(js) {
		p.Next = &end
	}
	s.sendJSON(w, r, http.StatusOK, p)
}

// apiItem answers a listing page's script with its listing.
func (s *Site) apiItem(w http.ResponseWriter, r *http.Request, id string) {
	l, ok := s.jsListing(id)
	if _, gone := s.removal(id); !ok || gone {
		s.sendJSON(w, r, http.StatusNotFound, map[string]string{"error": "no such listing"})
		return
	}
	s.sendJSON(w, r, http.StatusOK, jsListing{ID: l.ID, Title: l.Title, Description: l.Description,
		Price: l.Price, Currency: l.Currency, Seller: l.Seller, Location: l.Location, Lang: l.Lang, Images: l.Images})
}

// jsListing returns the JS listing with the given id.
func (s *Site) jsListing(id string) (Listing, bool) {
	i, ok := s.cat.byID[id]
	if !ok || !s.cat.listings[i].JS {
		return Listing{}, false
	}
	return s.cat.listings[i], true
}

// script serves the section's scripts.
func (s *Site) script(w http.ResponseWriter, r *http.Request, src string) {
	s.send(w, r, http.StatusOK, "text/javascript; charset=utf-8", []byte(src))
}

// hang never answers: it returns when the client gives up (the request's
// context ends) or, as a safeguard, after Config.HangLimit.
func (s *Site) hang(w http.ResponseWriter, r *http.Request) {
	var limit <-chan time.Time
	if s.hangLimit > 0 {
		t := time.NewTimer(s.hangLimit)
		defer t.Stop()
		limit = t.C
	}
	select {
	case <-r.Context().Done():
		s.log.Debug("demo site hang released", "path", r.URL.Path, "err", r.Context().Err())
	case <-limit:
		s.sendText(w, r, http.StatusGatewayTimeout, "gave up waiting\n")
	}
}

// sendJSON writes v as a JSON document.
func (s *Site) sendJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("demo site json", "path", r.URL.Path, "err", err)
		s.sendText(w, r, http.StatusInternalServerError, "encoding error\n")
		return
	}
	s.send(w, r, status, "application/json; charset=utf-8", append(b, '\n'))
}
