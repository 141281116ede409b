package demosite

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// Labels of a listing.
const (
	LabelPositive = "positive"
	LabelNegative = "negative"
)

// Listing is one listing the site holds, with the label a person who knows
// the trade would give it.
type Listing struct {
	ID string
	// Path is the listing page's path: /item/<id>, /private/item/<id> for
	// listings that robots.txt keeps crawlers away from, or /js/item/<id>
	// for listings of the JavaScript section.
	Path        string
	Title       string
	Description string
	Price       string
	Currency    string
	Seller      string
	Location    string
	Lang        string
	// Images are the paths of the listing's photos, /img/<id>-<n>.png|svg.
	Images []string
	// Label is LabelPositive for offers of prohibited wildlife products and
	// LabelNegative otherwise.
	Label string
	// Category is the wildlife category of a positive listing (ivory,
	// rhino_horn, pangolin, tiger, hawksbill, hornbill, live_primate,
	// live_reptile, live_bird, other_wildlife) and "none" otherwise.
	Category string
	// Section is the marketplace category the listing is filed under
	// (/category/<section>).
	Section string
	// Trap marks a negative listing written to look like a positive one:
	// ivory as a colour, Tiger Balm, toy pangolins, tagua, faux items.
	Trap bool
	// JS marks a listing of the JavaScript section: its page is a shell that
	// a script fills in, and only the JavaScript search page (/js/search)
	// links to it, so only a sweep that renders pages finds it.
	JS bool
	// Reachable reports that a correct sweep of the demo target captures the
	// listing: it is linked from the index pages (for JS listings, once the
	// JavaScript search page is rendered and scrolled), robots.txt allows it
	// and its page answers (for JS listings, renders).
	Reachable bool
	// Why explains the label, and the listing's special role if it has one.
	Why string
}

// Roles some listings play in the site's structure.
const (
	roleNone     = iota
	rolePrivate  // served under /private/item/, which robots.txt disallows
	roleSlow     // answers after Config.SlowDelay
	roleBroken   // always answers 500
	roleGBK      // served in GBK instead of UTF-8
	roleRedirect // linked through /go/<id>, which redirects to /item/<id>
	roleHang     // JS page whose banner image never answers, so it never finishes loading
	roleFreeze   // JS page whose script freezes the tab before it fills the page in
)

// Offer kinds.
const (
	kindOrdinary = iota
	kindPositive
	kindTrap
)

// offer is one kind of thing sellers put up, written in one language.
// Title and desc may hold {a|b|c} alternatives, one of which is chosen for
// each listing built from the offer.
type offer struct {
	kind     int
	category string // wildlife category of a positive offer
	section  string
	title    string
	desc     string
	lo, hi   int // price range in the lexicon's currency
	why      string
	times    int // listings built from the offer; 0 means 1
	role     int // role of the first listing built from the offer
}

// lexicon holds what listings in one language are made of.
type lexicon struct {
	lang     string
	currency string
	group    string // thousands separator in prices
	sep      string // between sentences of a description
	sellers  []string
	places   []string
	// extras are sentences about payment, delivery and contact, added to
	// descriptions.
	extras []string
	offers []offer
}

// lexicons lists every language the site is written in, in a fixed order.
func lexicons() []lexicon {
	return []lexicon{
		lexEN(), lexZH(), lexZHTW(), lexDE(), lexFR(), lexES(), lexPT(),
		lexVI(), lexID(), lexTH(), lexJA(),
	}
}

// brokenLink is a search result whose listing no longer exists.
type brokenLink struct {
	id, title, section string
}

// brokenLinks sit among the index entries at fixed positions.
var brokenLinks = []struct {
	at   int
	link brokenLink
}{
	{17, brokenLink{"400017", "Mountain bike 26 inch, sold", "sports"}},
	{151, brokenLink{"400151", "Samsung 55 inch TV", "electronics"}},
	{288, brokenLink{"400288", "Carved wooden bookshelf", "home"}},
}

// seed fixes the catalog: the same seed builds the same site.
const seed = 0x5ea1_1d0c

// jsSeed fixes the JavaScript section; a seed of its own keeps the static
// site as it was before the section was added.
const jsSeed = 0x15_5ec7

// catalog is everything the site serves, built once by New.
type catalog struct {
	// listings are the static listings in the order of the "all" category,
	// then the JS listings in the order of the JavaScript search page.
	listings []Listing
	nStatic  int     // listings[:nStatic] are static, listings[nStatic:] JS
	entries  []entry // index entries: static listings and broken links
	byID     map[string]int
	roles    map[string]int // listing id → role
	images   map[string]image
}

// entry is one link on an index page.
type entry struct {
	href, title, section, text string // text is what search matches, lower case
	price, currency, location  string
}

// image is one generated photo.
type image struct {
	id  string
	n   int
	svg bool
}

func buildCatalog() *catalog {
	rng := rand.New(rand.NewPCG(seed, seed>>7))
	c := &catalog{byID: map[string]int{}, roles: map[string]int{}, images: map[string]image{}}
	used := map[string]bool{}
	for _, b := range brokenLinks {
		used[b.link.id] = true
	}
	c.listings = c.buildAll(rng, lexicons(), used)
	c.nStatic = len(c.listings)
	js := c.buildAll(rand.New(rand.NewPCG(jsSeed, jsSeed>>7)), jsLexicons(), used)
	for i := range js {
		js[i].JS = true
	}
	c.listings = append(c.listings, js...)
	for i := range c.listings {
		l := &c.listings[i]
		role := c.roles[l.ID]
		l.Path = "/item/" + l.ID
		if l.JS {
			l.Path = "/js/item/" + l.ID
		}
		l.Reachable = true
		switch role {
		case rolePrivate:
			l.Path = "/private/item/" + l.ID
			l.Reachable = false
			l.Why += "; served under /private/, which robots.txt disallows"
		case roleBroken:
			l.Reachable = false
			l.Why += "; its page always answers 500"
		case roleSlow:
			l.Why += "; its page answers slowly"
		case roleGBK:
			l.Why += "; its page is encoded in GBK"
		case roleRedirect:
			l.Why += "; linked through a redirect"
		case roleHang:
			l.Why += "; its page never finishes loading: a banner image never answers"
		case roleFreeze:
			l.Reachable = false
			l.Why += "; its script freezes the tab before the listing shows, so it never renders"
		}
		c.byID[l.ID] = i
		for n, p := range l.Images {
			c.images[p] = image{id: l.ID, n: n + 1, svg: strings.HasSuffix(p, ".svg")}
		}
	}
	c.entries = indexEntries(c)
	return c
}

// buildAll builds the listings of every offer of lexs, in shuffled order,
// and records the roles of those that play one.
func (c *catalog) buildAll(rng *rand.Rand, lexs []lexicon, used map[string]bool) []Listing {
	var ls []Listing
	for _, lx := range lexs {
		for _, o := range lx.offers {
			for k := range max(o.times, 1) {
				l := build(rng, lx, o, newID(rng, used))
				if k == 0 && o.role != roleNone {
					c.roles[l.ID] = o.role
				}
				ls = append(ls, l)
			}
		}
	}
	rng.Shuffle(len(ls), func(i, j int) { ls[i], ls[j] = ls[j], ls[i] })
	return ls
}

// static returns the static listings, in the order of the "all" category.
func (c *catalog) static() []Listing { return c.listings[:c.nStatic] }

// js returns the JS listings, in the order of the JavaScript search page.
func (c *catalog) js() []Listing { return c.listings[c.nStatic:] }

// indexEntries lists what the "all" category links to, in order: every
// static listing, with the broken links put in at their places.
func indexEntries(c *catalog) []entry {
	var es []entry
	for _, l := range c.static() {
		href := l.Path
		if c.roles[l.ID] == roleRedirect {
			href = "/go/" + l.ID
		}
		es = append(es, entry{
			href: href, title: l.Title, section: l.Section,
			text:  strings.ToLower(l.Title + "\n" + l.Description),
			price: l.Price, currency: l.Currency, location: l.Location,
		})
	}
	for _, b := range brokenLinks {
		e := entry{href: "/item/" + b.link.id, title: b.link.title, section: b.link.section,
			text: strings.ToLower(b.link.title)}
		at := min(b.at, len(es))
		es = append(es[:at], append([]entry{e}, es[at:]...)...)
	}
	return es
}

// newID returns a listing id not used before.
func newID(rng *rand.Rand, used map[string]bool) string {
	for {
		id := strconv.Itoa(100000 + rng.IntN(900000))
		if !used[id] {
			used[id] = true
			return id
		}
	}
}

// build makes one listing from an offer.
func build(rng *rand.Rand, lx lexicon, o offer, id string) Listing {
	desc := spin(rng, o.desc)
	extras := rng.Perm(len(lx.extras))
	for _, i := range extras[:min(rng.IntN(3), len(extras))] {
		desc += lx.sep + lx.extras[i]
	}
	l := Listing{
		ID:          id,
		Title:       spin(rng, o.title),
		Description: desc,
		Price:       formatPrice(price(rng, o.lo, o.hi), lx.group),
		Currency:    lx.currency,
		Seller:      lx.sellers[rng.IntN(len(lx.sellers))],
		Location:    lx.places[rng.IntN(len(lx.places))],
		Lang:        lx.lang,
		Label:       LabelNegative,
		Category:    "none",
		Section:     o.section,
		Why:         o.why,
	}
	switch o.kind {
	case kindPositive:
		l.Label = LabelPositive
		l.Category = o.category
	case kindTrap:
		l.Trap = true
	}
	for n := range 1 + rng.IntN(3) {
		ext := ".png"
		if rng.IntN(3) == 0 {
			ext = ".svg"
		}
		l.Images = append(l.Images, fmt.Sprintf("/img/%s-%d%s", id, n+1, ext))
	}
	return l
}

// spin replaces each {a|b|c} in s with one of its alternatives.
func spin(rng *rand.Rand, s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			panic("demosite: unbalanced { in " + strconv.Quote(s))
		}
		alts := strings.Split(s[i+1:i+j], "|")
		b.WriteString(s[:i])
		b.WriteString(alts[rng.IntN(len(alts))])
		s = s[i+j+1:]
	}
}

// price picks a round price in [lo, hi].
func price(rng *rand.Rand, lo, hi int) int {
	p := lo
	if hi > lo {
		p += rng.IntN(hi - lo + 1)
	}
	step := 1
	for v := p; v >= 1000; v /= 10 {
		step *= 10
	}
	if p >= 100 && step == 1 {
		step = 5
	}
	return p / step * step
}

// formatPrice writes n with group between each three digits.
func formatPrice(n int, group string) string {
	s := strconv.Itoa(n)
	var parts []string
	for len(s) > 3 {
		parts = append([]string{s[len(s)-3:]}, parts...)
		s = s[:len(s)-3]
	}
	return strings.Join(append([]string{s}, parts...), group)
}

// truth returns the sorted paths of the positive reachable listings, static
// and JS.
func (c *catalog) truth() []string {
	var ps []string
	for _, l := range c.listings {
		if l.Label == LabelPositive && l.Reachable {
			ps = append(ps, l.Path)
		}
	}
	sort.Strings(ps)
	return ps
}
