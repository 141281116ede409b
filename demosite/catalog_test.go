package demosite

import (
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestCatalog(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	ls := s.Listings()
	if len(ls) < 300 {
		t.Errorf("%d listings, want at least 300", len(ls))
	}
	langs := map[string]int{}
	ids, paths := map[string]bool{}, map[string]bool{}
	positives, traps := 0, 0
	categories := []string{"ivory", "rhino_horn", "pangolin", "tiger", "hawksbill", "hornbill",
		"live_primate", "live_reptile", "live_bird", "other_wildlife"}
	for _, l := range ls {
		langs[l.Lang]++
		if ids[l.ID] || paths[l.Path] {
			t.Errorf("duplicate listing %s %s", l.ID, l.Path)
		}
		ids[l.ID], paths[l.Path] = true, true
		for name, v := range map[string]string{"title": l.Title, "description": l.Description, "price": l.Price,
			"currency": l.Currency, "seller": l.Seller, "location": l.Location, "lang": l.Lang, "why": l.Why} {
			if strings.TrimSpace(v) == "" {
				t.Errorf("%s: empty %s", l.ID, name)
			}
		}
		if strings.ContainsAny(l.Title+l.Description, "{|}") {
			t.Errorf("%s: unexpanded alternatives in %q / %q", l.ID, l.Title, l.Description)
		}
		if n := len(l.Images); n < 1 || n > 3 {
			t.Errorf("%s: %d images", l.ID, n)
		}
		if !slices.ContainsFunc(sections, func(sec section) bool { return sec.slug == l.Section }) {
			t.Errorf("%s: unknown section %q", l.ID, l.Section)
		}
		switch l.Label {
		case LabelPositive:
			positives++
			if !slices.Contains(categories, l.Category) || l.Trap {
				t.Errorf("%s: positive with category %q trap %v", l.ID, l.Category, l.Trap)
			}
		case LabelNegative:
			if l.Trap {
				traps++
			}
			if l.Category != "none" {
				t.Errorf("%s: negative with category %q", l.ID, l.Category)
			}
		default:
			t.Errorf("%s: label %q", l.ID, l.Label)
		}
	}
	if len(langs) < 8 {
		t.Errorf("%d languages, want at least 8: %v", len(langs), langs)
	}
	if share := float64(positives) / float64(len(ls)); share < 0.20 || share > 0.35 {
		t.Errorf("positives %d of %d (%.2f), want 20–35%%", positives, len(ls), share)
	}
	if share := float64(traps) / float64(len(ls)); share < 0.10 {
		t.Errorf("traps %d of %d (%.2f), want at least 10%%", traps, len(ls), share)
	}
	t.Logf("%d listings, %d positive, %d traps, %d in truth, languages %v",
		len(ls), positives, traps, len(s.Truth("")), langs)
}

// TestJSCatalog checks the JavaScript section: its size and mix, and that
// its listings come after the static ones and are told apart.
func TestJSCatalog(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	ls := s.Listings()
	js := s.cat.js()
	if len(js) < 35 || len(js) > 50 {
		t.Errorf("%d JS listings, want about 40", len(js))
	}
	if got := slices.IndexFunc(ls, func(l Listing) bool { return l.JS }); got != len(ls)-len(js) {
		t.Errorf("first JS listing at %d, want %d", got, len(ls)-len(js))
	}
	langs := map[string]bool{}
	positives, traps, truth := 0, 0, 0
	for i, l := range ls {
		if l.JS != (i >= len(ls)-len(js)) || l.JS != strings.HasPrefix(l.Path, jsItemPrefix) {
			t.Errorf("%s: JS %v at %d", l.Path, l.JS, i)
		}
		if !l.JS {
			continue
		}
		langs[l.Lang] = true
		if l.Trap {
			traps++
		}
		if l.Label == LabelPositive {
			positives++
		}
		role := s.cat.roles[l.ID]
		if l.Reachable != (role != roleFreeze) || !slices.Contains([]int{roleNone, roleHang, roleFreeze}, role) {
			t.Errorf("%s: reachable %v with role %d", l.Path, l.Reachable, role)
		}
		if l.Label == LabelPositive && l.Reachable {
			truth++
		}
	}
	if len(langs) < 8 {
		t.Errorf("JS listings in %d languages, want at least 8", len(langs))
	}
	if share := float64(positives) / float64(len(js)); share < 0.25 || share > 0.35 {
		t.Errorf("JS positives %d of %d (%.2f), want about 30%%", positives, len(js), share)
	}
	if traps < 5 {
		t.Errorf("%d JS traps, want at least 5", traps)
	}
	n := 0
	for _, u := range s.Truth("") {
		if strings.HasPrefix(u, jsItemPrefix) {
			n++
		}
	}
	if n != truth || truth == 0 {
		t.Errorf("Truth holds %d JS listings, want %d", n, truth)
	}
	t.Logf("%d JS listings, %d positive, %d traps, %d in truth", len(js), positives, traps, truth)
}

// TestCatalogWriting checks that positives use each way of writing the
// brief asks for and that traps cover the usual confusions.
func TestCatalogWriting(t *testing.T) {
	t.Parallel()
	var pos, neg strings.Builder
	for _, l := range New(Config{}).Listings() {
		if !l.Reachable {
			continue
		}
		w := &neg
		if l.Label == LabelPositive {
			w = &pos
		}
		w.WriteString(l.Title + "\n" + l.Description + "\n")
	}
	for _, want := range []string{"象牙手镯", "Elfenbein", "sừng tê giác", "cow bone", "White gold", "猪甲", "甲片",
		"鹤顶红", "玳瑁", "べっ甲", "i v o r y", "r.h.i.n.o h.o.r.n", "1v0ry", "iv\u200bory", "ｉｖｏｒｙ", "ivóry", "іvоry"} {
		if !strings.Contains(pos.String(), want) {
			t.Errorf("no reachable positive says %q", want)
		}
	}
	for _, want := range []string{"ivory white", "couleur ivoire", "象牙白", "アイボリー", "Tiger Balm", "plush pangolin",
		"tagua", "faux ivory", "tortie", "acetate", "tiger's eye", "Rhino 7", "Ivory Coast"} {
		if !strings.Contains(strings.ToLower(neg.String()), strings.ToLower(want)) {
			t.Errorf("no reachable negative says %q", want)
		}
	}
}

func TestTruth(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	const base = "http://127.0.0.1:8090"
	truth := s.Truth(base + "/")
	if len(truth) == 0 {
		t.Fatal("Truth is empty")
	}
	if !slices.IsSorted(truth) {
		t.Error("Truth is not sorted")
	}
	var want []string
	for _, l := range s.Listings() {
		if l.Label == LabelPositive && l.Reachable {
			want = append(want, base+l.Path)
		}
	}
	slices.Sort(want)
	if !slices.Equal(truth, want) {
		t.Errorf("Truth has %d URLs, want %d", len(truth), len(want))
	}
	excluded := []Listing{withRole(t, s, roleBroken), withRole(t, s, roleFreeze)}
	for _, l := range s.Listings() {
		if s.cat.roles[l.ID] == rolePrivate && l.Label == LabelPositive {
			excluded = append(excluded, l)
		}
	}
	if len(excluded) < 3 {
		t.Errorf("want positives private, failing and freezing, got %d", len(excluded))
	}
	for _, l := range excluded {
		if l.Label != LabelPositive || l.Reachable || slices.Contains(truth, base+l.Path) {
			t.Errorf("%s (%s) should be an unreachable positive outside Truth", l.Path, l.Why)
		}
	}
	for _, role := range []int{roleSlow, roleGBK, roleHang} {
		if l := withRole(t, s, role); !slices.Contains(truth, base+l.Path) {
			t.Errorf("%s (%s) should be in Truth", l.Path, l.Why)
		}
	}
	for _, u := range truth {
		if strings.Contains(u, "/private/") {
			t.Errorf("Truth holds disallowed %s", u)
		}
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	count := map[int]int{}
	for _, role := range s.cat.roles {
		count[role]++
	}
	for role, want := range map[int]int{roleSlow: 1, roleBroken: 1, roleGBK: 1, roleRedirect: 1, roleHang: 1, roleFreeze: 1} {
		if count[role] != want {
			t.Errorf("%d listings with role %d, want %d", count[role], role, want)
		}
	}
	if count[rolePrivate] < 3 {
		t.Errorf("%d private listings, want at least 3", count[rolePrivate])
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	a, b := New(Config{}), New(Config{})
	if !reflect.DeepEqual(a.Listings(), b.Listings()) || !reflect.DeepEqual(a.cat.entries, b.cat.entries) {
		t.Error("two sites differ")
	}
}
