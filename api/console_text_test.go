package api

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"sort"
	"strings"
	"testing"
	"testing/fstest"

	"gopkg.in/yaml.v3"
)

// translations are the languages besides English that the console must
// offer in full.
var translations = []string{"es", "fr"}

func loadTestText(t *testing.T) *consoleText {
	t.Helper()
	ct, err := loadConsoleText(consoleTextFS)
	if err != nil {
		t.Fatalf("the embedded message catalogs do not load: %v", err)
	}
	return ct
}

// TestConsoleTextLoads loads the embedded catalogs: every translated text
// has an English key and the same placeholders as its English text.
func TestConsoleTextLoads(t *testing.T) {
	ct := loadTestText(t)
	if got, want := ct.Languages(), append([]string{"en"}, translations...); !slices.Equal(got, want) {
		t.Errorf("Languages() = %v, want %v", got, want)
	}
	if n := len(ct.langs[defaultLang]); n < 400 {
		t.Errorf("only %d English texts loaded", n)
	}
}

// TestConsoleTextLoadRejects shows the loader guards what the translations
// rely on: a placeholder renamed in translation, or a key English lacks,
// stops the console from starting.
func TestConsoleTextLoadRejects(t *testing.T) {
	en := &fstest.MapFile{Data: []byte("a.b: \"{n} flags\"\n")}
	for name, fr := range map[string]string{
		"placeholder": "a.b: \"{m} signalements\"\n",
		"extra key":   "a.b: \"{n} signalements\"\na.c: autre\n",
	} {
		fsys := fstest.MapFS{
			"console/text/en/x.yaml": en,
			"console/text/fr/x.yaml": {Data: []byte(fr)},
		}
		if _, err := loadConsoleText(fsys); err == nil {
			t.Errorf("%s: a bad French catalog loaded", name)
		}
	}
	ok := fstest.MapFS{
		"console/text/en/x.yaml": en,
		"console/text/fr/x.yaml": {Data: []byte("a.b: \"{n} signalements\"\n")},
	}
	ct, err := loadConsoleText(ok)
	if err != nil {
		t.Fatal(err)
	}
	if got := ct.T("fr", "a.b", "n", 3); got != "3 signalements" {
		t.Errorf("T = %q", got)
	}
}

// TestConsoleTextComplete holds each translation to every English key, in
// the file of the same name as English has it.
func TestConsoleTextComplete(t *testing.T) {
	ct := loadTestText(t)
	en := ct.langs[defaultLang]
	for _, lang := range translations {
		msgs := ct.langs[lang]
		var missing []string
		for k := range en {
			if _, ok := msgs[k]; !ok {
				missing = append(missing, k)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			t.Errorf("%s lacks %d English keys:\n%s", lang, len(missing), strings.Join(missing, "\n"))
		}
	}

	files, err := fs.Glob(consoleTextFS, "console/text/"+defaultLang+"/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no English catalog files: %v", err)
	}
	for _, f := range files {
		enKeys := catalogKeys(t, f)
		for _, lang := range translations {
			tf := path.Join("console/text", lang, path.Base(f))
			keys := catalogKeys(t, tf)
			var elsewhere []string
			for k := range enKeys {
				if !keys[k] {
					elsewhere = append(elsewhere, k)
				}
			}
			for k := range keys {
				if !enKeys[k] {
					elsewhere = append(elsewhere, k)
				}
			}
			sort.Strings(elsewhere)
			if len(elsewhere) > 0 {
				t.Errorf("%s and %s differ in keys:\n%s", tf, f, strings.Join(elsewhere, "\n"))
			}
		}
	}
}

// catalogKeys reads the keys of one catalog file.
func catalogKeys(t *testing.T, name string) map[string]bool {
	t.Helper()
	b, err := fs.ReadFile(consoleTextFS, name)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return nil
	}
	var m map[string]string
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Errorf("%s: %v", name, err)
	}
	keys := make(map[string]bool, len(m))
	for k := range m {
		keys[k] = true
	}
	return keys
}

// TestConsoleTextTranslated fails a catalog that is mostly English copied
// over: at least 80% of its texts must differ from English.
func TestConsoleTextTranslated(t *testing.T) {
	ct := loadTestText(t)
	en := ct.langs[defaultLang]
	for _, lang := range translations {
		msgs := ct.langs[lang]
		var same []string
		for k, v := range msgs {
			if v == en[k] {
				same = append(same, k)
			}
		}
		if len(msgs) == 0 {
			t.Errorf("%s has no texts", lang)
			continue
		}
		sort.Strings(same)
		if pct := 100 * (len(msgs) - len(same)) / len(msgs); pct < 80 {
			t.Errorf("%s: only %d%% of %d texts differ from English; the same: %s", lang, pct, len(msgs), strings.Join(same, ", "))
		} else {
			t.Logf("%s: %d of %d texts differ from English (%d%%)", lang, len(msgs)-len(same), len(msgs), pct)
		}
	}
}

// TestConsoleLang picks the language from the cookie, else Accept-Language,
// else English.
func TestConsoleLang(t *testing.T) {
	ct := loadTestText(t)
	for _, c := range []struct {
		accept, cookie, want string
	}{
		{"fr-CA,fr;q=0.9,en;q=0.5", "", "fr"},
		{"es-419", "", "es"},
		{"es-ES,es;q=0.8", "", "es"},
		{"de", "", "en"},
		{"", "", "en"},
		{"en-GB,en;q=0.9", "", "en"},
		{"fr-CA,fr;q=0.9,en;q=0.5", "es", "es"},
		{"es-419", "fr", "fr"},
		{"de", "fr", "fr"},
		{"es-419", "en", "en"},
		{"fr", "de", "fr"},  // a cookie naming no catalog is ignored
		{"fr", "xx!", "fr"}, // nor one naming no language at all
	} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if c.accept != "" {
			r.Header.Set("Accept-Language", c.accept)
		}
		if c.cookie != "" {
			r.AddCookie(&http.Cookie{Name: langCookie, Value: c.cookie})
		}
		if got := ct.lang(r); got != c.want {
			t.Errorf("Accept-Language %q, cookie %q: lang %q, want %q", c.accept, c.cookie, got, c.want)
		}
	}
}
