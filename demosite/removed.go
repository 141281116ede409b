package demosite

import (
	"errors"
	"fmt"
	"net/http"
	"path"
	"slices"
)

// Removal is how the page of a listing taken off the site answers.
type Removal int

// Ways a removed listing's page answers.
const (
	// RemovedNotFound answers 404 with the site's not-found page.
	RemovedNotFound Removal = iota + 1
	// RemovedGone answers 410 Gone.
	RemovedGone
	// RemovedNotice answers 200 with a page saying the listing was
	// removed, and no listing on it.
	RemovedNotice
)

// ErrNoListing reports an id the site has no listing for.
var ErrNoListing = errors.New("demosite: no such listing")

// Remove takes a listing off the site, as a seller or a takedown would:
// index pages (and the JavaScript search) stop linking to it, and its page
// (and, for a JS listing, its API answer) answers as how says. Remove it
// again to change how; Restore puts it back.
func (s *Site) Remove(id string, how Removal) error {
	if _, ok := s.cat.byID[id]; !ok {
		return fmt.Errorf("%w: %q", ErrNoListing, id)
	}
	if how < RemovedNotFound || how > RemovedNotice {
		return fmt.Errorf("demosite: removal %d", how)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.removed == nil {
		s.removed = map[string]Removal{}
	}
	s.removed[id] = how
	return nil
}

// Restore puts a removed listing back on the site.
func (s *Site) Restore(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.removed, id)
}

// removal says how the listing id answers, when it is removed.
func (s *Site) removal(id string) (Removal, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	how, ok := s.removed[id]
	return how, ok
}

// serveRemoved answers for a removed listing's page.
func (s *Site) serveRemoved(w http.ResponseWriter, r *http.Request, how Removal) {
	switch how {
	case RemovedGone:
		s.render(w, r, http.StatusGone, goneTmpl, nil)
	case RemovedNotice:
		s.render(w, r, http.StatusOK, removedTmpl, nil)
	default:
		s.notFound(w, r)
	}
}

// listed drops the index entries of removed listings.
func (s *Site) listed(entries []entry) []entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.removed) == 0 {
		return entries
	}
	return slices.DeleteFunc(slices.Clone(entries), func(e entry) bool {
		_, gone := s.removed[path.Base(e.href)]
		return gone
	})
}

// listedJS drops removed listings from the JS listings.
func (s *Site) listedJS(ls []Listing) []Listing {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.removed) == 0 {
		return ls
	}
	return slices.DeleteFunc(slices.Clone(ls), func(l Listing) bool {
		_, gone := s.removed[l.ID]
		return gone
	})
}

var (
	goneTmpl = page(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Gone | Demo Market</title></head>
<body>{{template "header"}}
<main><h1>Gone</h1><p>This listing is gone for good.</p></main></body></html>
`)
	removedTmpl = page(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Listing removed | Demo Market</title></head>
<body>{{template "header"}}
<main class="removed"><h1>Listing removed</h1><p class="notice">This listing has been removed by the seller.</p>
<p><a href="/category/all">Browse all listings</a></p></main></body></html>
`)
)
