package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wildwatch/wildwatch"
	"github.com/wildwatch/wildwatch/demosite"
	"github.com/wildwatch/wildwatch/rules"
)

// devSet is the labelled listings shared by the project, beside the
// checkout.
const devSet = "../../shared/data/listings_dev.jsonl"

// matchPasses is how many times one iteration of a matcher benchmark reads
// the corpus, so that `-benchtime 1x` still times a few hundred
// milliseconds of work rather than one cold millisecond.
const matchPasses = 8

// packTerms is the size of the generated rule pack.
const packTerms = 10_000

// corpus is the listing text every rules benchmark reads: the dev set and
// the demo site's listings.
type corpus struct {
	listings []wildwatch.Listing
	bytes    int64 // text field bytes of one pass
}

var (
	corpusOnce sync.Once
	corpusVal  corpus
	corpusErr  error
)

func loadCorpus(b *testing.B) corpus {
	b.Helper()
	corpusOnce.Do(func() {
		f, err := os.Open(devSet)
		if err != nil {
			corpusErr = fmt.Errorf("the dev set must sit beside the checkout: %w", err)
			return
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 1<<20)
		for line := 1; sc.Scan(); line++ {
			var l wildwatch.Listing
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				corpusErr = fmt.Errorf("%s:%d: %w", devSet, line, err)
				return
			}
			corpusVal.listings = append(corpusVal.listings, l)
		}
		if err := sc.Err(); err != nil {
			corpusErr = err
			return
		}
		for _, d := range demosite.New(demosite.Config{}).Listings() {
			corpusVal.listings = append(corpusVal.listings, wildwatch.Listing{
				ID: d.ID, URL: d.Path, Title: d.Title, Description: d.Description,
				Seller: d.Seller, Location: d.Location, Lang: d.Lang,
			})
		}
		for _, l := range corpusVal.listings {
			for _, fv := range l.TextFields() {
				corpusVal.bytes += int64(len(fv.Value))
			}
		}
	})
	if corpusErr != nil {
		b.Fatal(corpusErr)
	}
	return corpusVal
}

// benchMatcher times m.Match over the corpus, matchPasses times an
// iteration, after one untimed pass to warm it up.
func benchMatcher(b *testing.B, m *rules.Matcher) {
	c := loadCorpus(b)
	flagged := 0
	for _, l := range c.listings {
		if m.Match(l).Flagged {
			flagged++
		}
	}
	b.SetBytes(c.bytes * matchPasses)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for p := 0; p < matchPasses; p++ {
			for _, l := range c.listings {
				m.Match(l)
			}
		}
	}
	reportMBps(b, c.bytes*matchPasses, time.Since(start))
	b.ReportMetric(float64(flagged), "flagged")
}

// reportMBps reports MB/s, which the benchmark line prints with two
// decimals (the regexp baseline rounds to 0.00), and ns/B, printed with the
// digits it needs, so that a report can take the ratio.
func reportMBps(b *testing.B, perOp int64, elapsed time.Duration) {
	b.StopTimer()
	bytes := float64(perOp) * float64(b.N)
	b.ReportMetric(bytes/1e6/elapsed.Seconds(), "MB/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/bytes, "ns/B")
}

// BenchmarkMatchDefault matches the corpus with the default rule pack.
func BenchmarkMatchDefault(b *testing.B) {
	m, err := rules.Compile(rules.Default())
	if err != nil {
		b.Fatal(err)
	}
	benchMatcher(b, m)
}

// BenchmarkMatch10k matches the corpus with a generated pack of 10,000
// distinct terms in twelve languages and six scripts.
func BenchmarkMatch10k(b *testing.B) {
	m, err := rules.Compile(generatedPack(b))
	if err != nil {
		b.Fatal(err)
	}
	benchMatcher(b, m)
}

// BenchmarkRegexpBaseline10k is the baseline for BenchmarkMatch10k: one Go
// regular expression alternating the same 10,000 normalised terms, run
// with FindAllStringIndex over the corpus already normalised (its
// normalisation is not timed).
func BenchmarkRegexpBaseline10k(b *testing.B) {
	rs := generatedPack(b)
	var alts []string
	for _, c := range rs.Categories {
		for _, r := range c.Rules {
			for _, lang := range slices.Sorted(maps.Keys(r.Terms)) {
				for _, t := range r.Terms[lang] {
					alts = append(alts, regexp.QuoteMeta(rules.Normalize(t).Text))
				}
			}
		}
	}
	if len(alts) != packTerms {
		b.Fatalf("%d terms, want %d", len(alts), packTerms)
	}
	re := regexp.MustCompile(strings.Join(alts, "|"))
	c := loadCorpus(b)
	var texts []string
	for _, l := range c.listings {
		for _, f := range l.TextFields() {
			if f.Value != "" {
				texts = append(texts, rules.Normalize(f.Value).Text)
			}
		}
	}
	b.SetBytes(c.bytes)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	found := 0
	for i := 0; i < b.N; i++ {
		found = 0
		for _, t := range texts {
			found += len(re.FindAllStringIndex(t, -1))
		}
	}
	reportMBps(b, c.bytes, time.Since(start))
	b.ReportMetric(float64(found), "matches")
}

var (
	packOnce sync.Once
	packVal  *rules.RuleSet
)

// generatedPack returns a rule set of packTerms distinct terms: ten
// categories of twenty rules of fifty terms, made deterministically from
// the syllables of twelve languages.
func generatedPack(b *testing.B) *rules.RuleSet {
	b.Helper()
	packOnce.Do(func() { packVal = buildPack() })
	return packVal
}

// language describes how words of one language are made: a word is one to
// three syllables (onset, vowel, coda); an unspaced language joins two to
// four characters from its alphabet instead.
type language struct {
	code     string
	share    int // terms out of packTerms
	onsets   []string
	vowels   []string
	codas    []string
	alphabet []string // unspaced scripts only
}

func fieldsOf(s string) []string { return strings.Fields(s) }

var languages = []language{
	{code: "en", share: 2000,
		onsets: fieldsOf("b c d f g h j k l m n p r s t v w y br cr dr fl gr pl pr sh st th tr ch sp"),
		vowels: fieldsOf("a e i o u ea ou ai oo ee"),
		codas:  fieldsOf("- n r s t ck ng st rd ll m nd")},
	{code: "de", share: 1000,
		onsets: fieldsOf("b d f g h k l m n p r s t w z sch pf kn st sp schw tr"),
		vowels: fieldsOf("a e i o u ei au ie ä ö ü eu"),
		codas:  fieldsOf("- n r ch tz ng ck lt ft nd ß")},
	{code: "fr", share: 1000,
		onsets: fieldsOf("b c d f g j l m n p r s t v ch gr pl tr br"),
		vowels: fieldsOf("a e i o u é è ou oi eau ai an on"),
		codas:  fieldsOf("- n r s x t l")},
	{code: "es", share: 1000,
		onsets: fieldsOf("b c d f g j l m n ñ p r s t v ll ch br gr tr pl"),
		vowels: fieldsOf("a e i o u á é í ó ú ue ie"),
		codas:  fieldsOf("- n r s l z")},
	{code: "pt", share: 800,
		onsets: fieldsOf("b c d f g j l m n p r s t v lh nh ch br tr"),
		vowels: fieldsOf("a e i o u ã õ ão é ê ô ç"),
		codas:  fieldsOf("- m r s l")},
	{code: "id", share: 700,
		onsets: fieldsOf("b c d g h j k l m n p r s t w ng ny"),
		vowels: fieldsOf("a e i o u"),
		codas:  fieldsOf("- n k ng r t h")},
	{code: "vi", share: 700,
		onsets: fieldsOf("b c d đ g h k l m n nh ng ph qu s t th tr v x"),
		vowels: fieldsOf("a ă â e ê i o ô ơ u ư ươ yê oa"),
		codas:  fieldsOf("- n ng nh c t m p")},
	{code: "ru", share: 800,
		onsets: fieldsOf("б в г д ж з к л м н п р с т ф х ц ч ш щ"),
		vowels: fieldsOf("а е и о у ы я ю э"),
		codas:  fieldsOf("- й н р с т к л ль")},
	{code: "el", share: 400,
		onsets: fieldsOf("β γ δ ζ θ κ λ μ ν ξ π ρ σ τ φ χ ψ"),
		vowels: fieldsOf("α ε η ι ο υ ω ου αι"),
		codas:  fieldsOf("- ς ν ρ")},
	{code: "zh", share: 800, alphabet: strings.Split(
		"的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴切准刻",
		"")},
	{code: "ja", share: 500, alphabet: strings.Split(
		"アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワンガギグゲゴザジズゼゾダデドバビブベボパピプペポッャュョー", "")},
	{code: "th", share: 300, alphabet: strings.Split(
		"กขคงจฉชซญดตถทธนบปผพฟมยรลวศสหอฮะาิีึืุูเแโใไ่้๊๋ั็", "")},
}

func buildPack() *rules.RuleSet {
	rng := rand.New(rand.NewPCG(2024, 10))
	seen := map[string]bool{}
	var terms []struct{ lang, text string }
	for _, lang := range languages {
		for n := 0; n < lang.share; {
			w := lang.word(rng)
			if rng.IntN(10) == 0 && lang.alphabet == nil {
				w += " " + lang.word(rng) // a two-word phrase now and then
			}
			norm := rules.Normalize(w).Text
			if norm == "" || seen[norm] || strings.ContainsAny(w, "*") {
				continue
			}
			seen[norm] = true
			terms = append(terms, struct{ lang, text string }{lang.code, w})
			n++
		}
	}
	rng.Shuffle(len(terms), func(i, j int) { terms[i], terms[j] = terms[j], terms[i] })
	rs := &rules.RuleSet{Name: "generated", Version: 1, Threshold: 1, ReviewThreshold: 0.5}
	const rulesPerCat = 20
	perRule := len(terms) / (len(rules.KnownCategories) * rulesPerCat)
	for ci, cat := range rules.KnownCategories {
		c := rules.Category{Name: cat}
		for ri := 0; ri < rulesPerCat; ri++ {
			r := rules.Rule{ID: fmt.Sprintf("%s.r%02d", cat, ri), Weight: 0.5, Terms: rules.Terms{}}
			base := (ci*rulesPerCat + ri) * perRule
			for _, t := range terms[base : base+perRule] {
				r.Terms[t.lang] = append(r.Terms[t.lang], t.text)
			}
			c.Rules = append(c.Rules, r)
		}
		rs.Categories = append(rs.Categories, c)
	}
	return rs
}

func (l language) word(rng *rand.Rand) string {
	var sb strings.Builder
	if l.alphabet != nil {
		for n := 2 + rng.IntN(3); n > 0; n-- {
			sb.WriteString(l.alphabet[rng.IntN(len(l.alphabet))])
		}
		return sb.String()
	}
	for n := 1 + rng.IntN(3); n > 0; n-- {
		sb.WriteString(l.onsets[rng.IntN(len(l.onsets))])
		sb.WriteString(l.vowels[rng.IntN(len(l.vowels))])
		if c := l.codas[rng.IntN(len(l.codas))]; c != "-" {
			sb.WriteString(c)
		}
	}
	return sb.String()
}
