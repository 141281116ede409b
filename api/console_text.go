package api

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strings"

	"golang.org/x/text/language"
	"gopkg.in/yaml.v3"
)

// Every word the console shows comes from the message catalogs in
// console/text/<lang>/*.yaml: flat maps from a key ("review.confirm") to a
// text in which {name} stands for an argument. English is complete; a key
// missing from another language falls back to English. Templates call
// {{t "key" "name" value …}}; Go code calls (*consoleText).T.

//go:embed console/text
var consoleTextFS embed.FS

// defaultLang is the language every key exists in.
const defaultLang = "en"

// consoleText is every language's messages.
type consoleText struct {
	langs   map[string]map[string]string
	tags    []language.Tag // languages offered, defaultLang first
	matcher language.Matcher
}

// loadConsoleText reads the message catalogs from fsys (console/text/…).
// A key defined twice in one language, a file that does not parse, or a
// language with keys English lacks is an error naming the file.
func loadConsoleText(fsys fs.FS) (*consoleText, error) {
	ct := &consoleText{langs: map[string]map[string]string{}}
	dirs, err := fs.ReadDir(fsys, "console/text")
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		lang := d.Name()
		if _, err := language.Parse(lang); err != nil {
			return nil, fmt.Errorf("console text: %s: not a language tag", lang)
		}
		msgs := map[string]string{}
		files, err := fs.Glob(fsys, path.Join("console/text", lang, "*.yaml"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := fs.ReadFile(fsys, f)
			if err != nil {
				return nil, err
			}
			var node yaml.Node
			if err := yaml.NewDecoder(bytes.NewReader(b)).Decode(&node); err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("console text %s: %w", f, err)
			}
			if len(node.Content) == 0 {
				continue
			}
			m := node.Content[0]
			if m.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("console text %s:%d: want a map of key: text", f, m.Line)
			}
			for i := 0; i+1 < len(m.Content); i += 2 {
				k, v := m.Content[i], m.Content[i+1]
				if v.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("console text %s:%d: %s: want a text", f, v.Line, k.Value)
				}
				if _, dup := msgs[k.Value]; dup {
					return nil, fmt.Errorf("console text %s:%d: %s is defined twice", f, k.Line, k.Value)
				}
				msgs[k.Value] = v.Value
			}
		}
		ct.langs[lang] = msgs
	}
	en := ct.langs[defaultLang]
	if en == nil {
		return nil, fmt.Errorf("console text: no %s catalog", defaultLang)
	}
	var others []string
	for lang, msgs := range ct.langs {
		if lang == defaultLang {
			continue
		}
		others = append(others, lang)
		for k, v := range msgs {
			base, ok := en[k]
			if !ok {
				return nil, fmt.Errorf("console text %s: %s is not an English key", lang, k)
			}
			if a, b := placeholders(base), placeholders(v); a != b {
				return nil, fmt.Errorf("console text %s: %s has placeholders %s, English %s", lang, k, b, a)
			}
		}
	}
	sort.Strings(others)
	ct.tags = []language.Tag{language.MustParse(defaultLang)}
	for _, l := range others {
		ct.tags = append(ct.tags, language.MustParse(l))
	}
	ct.matcher = language.NewMatcher(ct.tags)
	return ct, nil
}

// placeholders lists the {names} in a text, sorted, as one string.
func placeholders(s string) string {
	var names []string
	for {
		i := strings.IndexByte(s, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			break
		}
		names = append(names, s[i+1:i+j])
		s = s[i+j+1:]
	}
	sort.Strings(names)
	return strings.Join(names, ",")
}

// Languages returns the languages offered, English first.
func (ct *consoleText) Languages() []string {
	out := make([]string, len(ct.tags))
	for i, t := range ct.tags {
		out[i] = t.String()
	}
	return out
}

// lang picks the language for a request: the ww_lang cookie when it names
// one offered, else the best match for Accept-Language, else English.
func (ct *consoleText) lang(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil {
		if _, ok := ct.langs[c.Value]; ok {
			return c.Value
		}
	}
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return defaultLang
	}
	_, i, conf := ct.matcher.Match(tags...)
	if conf == language.No {
		return defaultLang
	}
	return ct.tags[i].String()
}

// T returns the text of key in lang with its {name} placeholders replaced
// by the values that follow their names in args ("n", 3, "target", "demo").
// An unknown key comes back as itself in brackets, so a missing text is
// visible rather than blank (and tests catch it).
func (ct *consoleText) T(lang, key string, args ...any) string {
	msg, ok := ct.langs[lang][key]
	if !ok {
		msg, ok = ct.langs[defaultLang][key]
	}
	if !ok {
		return "[" + key + "]"
	}
	if len(args) == 0 || !strings.Contains(msg, "{") {
		return msg
	}
	pairs := make([]string, 0, len(args))
	for i := 0; i+1 < len(args); i += 2 {
		pairs = append(pairs, "{"+fmt.Sprint(args[i])+"}", fmt.Sprint(args[i+1]))
	}
	return strings.NewReplacer(pairs...).Replace(msg)
}

// Has reports whether key exists in English.
func (ct *consoleText) Has(key string) bool {
	_, ok := ct.langs[defaultLang][key]
	return ok
}
