package rules_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"strings"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/rules"
)

const examplePack = `
name: example
version: 2
thresholds: {flag: 1.0, review: 0.5}
categories:
  - name: ivory
    rules:
      - id: ivory.word
        weight: 0.6
        terms: {en: [ivory], fr: [ivoire], zh: [象牙]}
      - id: ivory.object
        weight: 0.5
        terms: {en: [bangle, carving]}
        requires_rules: [ivory.word]
    exclusions:
      - id: ivory.colour
        terms: {en: [ivory white], zh: [象牙白]}
`

func ExampleCompile() {
	rs, err := rules.Parse("example.yaml", []byte(examplePack))
	if err != nil {
		log.Fatal(err)
	}
	m, err := rules.Compile(rs)
	if err != nil {
		log.Fatal(err)
	}
	v := m.Match(wildwatch.Listing{
		Title:       "Old I.V.O.R.Y bangle",
		Description: "Bangle in ivory white paint.",
	})
	fmt.Println(v.RuleSet, v.Flagged, v.Category, v.Score)
	for _, mt := range v.Matches {
		fmt.Printf("%s %s [%d:%d] %q\n", mt.Rule, mt.Field, mt.Start, mt.End, mt.Text)
	}
	for _, x := range v.Exclusions {
		fmt.Printf("excluded by %s %s [%d:%d] %q\n", x.Rule, x.Field, x.Start, x.End, x.Text)
	}
	// Output:
	// example@2 true ivory 1.1
	// ivory.word title [4:13] "I.V.O.R.Y"
	// ivory.object title [14:20] "bangle"
	// ivory.object description [0:6] "Bangle"
	// excluded by ivory.colour description [10:21] "ivory white"
}

func ExampleMatcher_Match_review() {
	rs, err := rules.Parse("example.yaml", []byte(examplePack))
	if err != nil {
		log.Fatal(err)
	}
	m, err := rules.Compile(rs)
	if err != nil {
		log.Fatal(err)
	}
	v := m.Match(wildwatch.Listing{Title: "Ivoire, 20 cm"})
	fmt.Println(v.Flagged, v.Review, v.Score)
	// Output:
	// false true 0.6
}

func ExampleNormalize() {
	n := rules.Normalize("ＲＨＩＮＯ h.o.r.n, іvоry & 象 牙")
	fmt.Println(n.Text)
	start, end := n.Source(strings.Index(n.Text, "horn"), strings.Index(n.Text, "horn")+len("horn"))
	fmt.Println(start, end)
	// Output:
	// rhino horn ivory 象牙
	// 16 23
}

func ExampleDefault() {
	m, err := rules.Compile(rules.Default())
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range []wildwatch.Listing{
		{Title: "Carved 1v0ry netsuke, old stock"},
		{Title: "Tiger Balm ointment, 2 jars"},
		{Title: "Escamas de pangolín, 1 kg"},
	} {
		v := m.Match(l)
		fmt.Printf("%v %q\n", v.Flagged, v.Category)
	}
	// Output:
	// true "ivory"
	// false ""
	// true "pangolin"
}

func ExampleMatchLines() {
	rs, err := rules.Parse("example.yaml", []byte(examplePack))
	if err != nil {
		log.Fatal(err)
	}
	m, err := rules.Compile(rs)
	if err != nil {
		log.Fatal(err)
	}
	in := strings.NewReader(`{"id": "a1", "title": "象牙 carving", "label": "ignored"}
{"id": "a2", "title": "Lamp"}
`)
	if err := rules.MatchLines(context.Background(), m, in, os.Stdout); err != nil {
		log.Fatal(err)
	}
	// Output:
	// {"id":"a1","flagged":true,"score":1.1,"category":"ivory","matches":[{"rule":"ivory.word","field":"title","start":0,"end":6,"text":"象牙"},{"rule":"ivory.object","field":"title","start":7,"end":14,"text":"carving"}]}
	// {"id":"a2","flagged":false,"score":0,"category":"","matches":[]}
}

func ExampleDiff() {
	old, err := rules.Parse("v1.yaml", []byte(examplePack))
	if err != nil {
		log.Fatal(err)
	}
	changed := strings.Replace(examplePack, "version: 2", "version: 3", 1)
	changed = strings.Replace(changed, "zh: [象牙]}", "zh: [象牙], de: [elfenbein]}", 1)
	changed = strings.Replace(changed, "weight: 0.5", "weight: 0.4", 1)
	new, err := rules.Parse("v2.yaml", []byte(changed))
	if err != nil {
		log.Fatal(err)
	}
	rules.FormatDiff(os.Stdout, rules.Diff(old, new))
	// Output:
	// + categories.ivory.rules.ivory.word.terms.de: elfenbein
	// ~ categories.ivory.rules.ivory.object.weight: 0.5 → 0.4
}

func ExampleBacktest() {
	compile := func(src string) *rules.Matcher {
		rs, err := rules.Parse("example.yaml", []byte(src))
		if err != nil {
			log.Fatal(err)
		}
		m, err := rules.Compile(rs)
		if err != nil {
			log.Fatal(err)
		}
		return m
	}
	current := compile(examplePack)
	candidate := compile(strings.Replace(examplePack, "fr: [ivoire]", "fr: [ivoire, défense]", 1))
	rep := rules.Backtest(current, candidate, []wildwatch.Listing{
		{URL: "https://m.example/1", Title: "Défense d'ivoire sculptée"},
		{URL: "https://m.example/2", Title: "Ivory white lamp"},
	})
	fmt.Println(rep.Old, "→", rep.New, rep.Listings, "listings")
	for _, x := range rep.Added {
		fmt.Printf("now flagged: %s %s %.1f → %.1f\n", x.URL, x.Category, x.OldScore, x.NewScore)
	}
	// Output:
	// example@2 → example@2 2 listings
	// now flagged: https://m.example/1 ivory 0.6 → 1.2
}
