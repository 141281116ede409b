package crawler

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/wildwatch/wildwatch"
)

// TargetError is a problem in a target file: where it is and what is wrong.
// Line is the line of the offending key or value, or of the enclosing key
// when a required key is missing; Field is the dotted path of the key
// ("selectors.fields.title", "start_urls[2]"), empty for syntax errors.
type TargetError struct {
	File   string
	Line   int
	Field  string
	Reason string
}

func (e *TargetError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, ": %s", e.Field)
	}
	fmt.Fprintf(&b, ": %s", e.Reason)
	return b.String()
}

// ParseTarget reads a target from YAML and checks it. file names the source
// in errors. Unknown keys are errors. Defaults are not applied. Errors are
// *TargetError.
func ParseTarget(file string, data []byte) (wildwatch.Target, error) {
	var t wildwatch.Target
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return t, &TargetError{File: file, Line: 1, Reason: "empty document"}
		}
		return t, syntaxError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return t, &TargetError{File: file, Line: extra.Line, Reason: "more than one YAML document"}
	} else if !errors.Is(err, io.EOF) {
		return t, syntaxError(file, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	p := &targetParser{file: file, lines: map[string]int{"": root.Line}}
	if err := p.decode(root, "", reflect.ValueOf(&t).Elem()); err != nil {
		return t, err
	}
	if err := p.validate(t); err != nil {
		return t, err
	}
	return t, nil
}

var yamlLine = regexp.MustCompile(`line (\d+)`)

// parserProblems are the messages of yaml.v3's parser (as opposed to its
// scanner). yaml.v3 reports their line counting from zero, and reports the
// line where the enclosing mapping or sequence starts.
var parserProblems = []string{
	"did not find expected",
	"found duplicate %",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// scannerProblems are scanner messages that share a prefix with parser
// ones.
var scannerProblems = []string{
	"did not find expected alphabetic",
	"did not find expected comment",
	"did not find expected hex",
	"did not find expected whitespace",
	"did not find expected tag",
	"did not find expected digit",
	"did not find expected URI",
}

// syntaxError turns a YAML parser error into a TargetError, taking the line
// from its message. yaml.v3 leaves the line out of errors on the first
// line.
func syntaxError(file string, err error) *TargetError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	te := &TargetError{File: file, Line: 1, Reason: msg}
	m := yamlLine.FindStringSubmatchIndex(msg)
	if m == nil {
		return te
	}
	te.Line, _ = strconv.Atoi(msg[m[2]:m[3]])
	te.Reason = strings.TrimLeft(msg[:m[0]]+msg[m[1]:], ": ")
	if hasAnyPrefix(te.Reason, parserProblems) && !hasAnyPrefix(te.Reason, scannerProblems) {
		te.Line++
	}
	return te
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// targetParser decodes a YAML node tree into a Target field by field, so
// that unknown keys, duplicates and bad values are reported at their line,
// and remembers the line of every key for validation.
type targetParser struct {
	file  string
	lines map[string]int // field path → line of its key (or item)
}

func (p *targetParser) errorf(line int, field, format string, args ...any) *TargetError {
	return &TargetError{File: p.file, Line: line, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// line returns the line of field, or of its nearest recorded ancestor.
func (p *targetParser) line(field string) int {
	for {
		if l, ok := p.lines[field]; ok {
			return l
		}
		i := strings.LastIndexAny(field, ".[")
		if i < 0 {
			return p.lines[""]
		}
		field = field[:i]
	}
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

func (p *targetParser) decode(n *yaml.Node, path string, v reflect.Value) error {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	isText := reflect.PointerTo(v.Type()).Implements(textUnmarshaler)
	switch {
	case v.Kind() == reflect.Pointer && v.Type().Elem().Kind() == reflect.Struct:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return p.decode(n, path, v.Elem())
	case v.Kind() == reflect.Struct && !isText:
		return p.decodeStruct(n, path, v)
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.String:
		if n.Kind != yaml.SequenceNode {
			return p.errorf(n.Line, path, "want a list, got %s", describe(n))
		}
		for i, item := range n.Content {
			p.lines[fmt.Sprintf("%s[%d]", path, i)] = item.Line
		}
	}
	if n.Kind == yaml.MappingNode && !isText {
		return p.errorf(n.Line, path, "want a single value, got a mapping")
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		return p.errorf(n.Line, path, "%s", valueError(err))
	}
	return nil
}

func (p *targetParser) decodeStruct(n *yaml.Node, path string, v reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return p.errorf(n.Line, path, "want a mapping, got %s", describe(n))
	}
	fields := yamlFields(v.Type())
	seen := make(map[string]bool)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		field := key
		if path != "" {
			field = path + "." + key
		}
		idx, ok := fields[key]
		if !ok {
			return p.errorf(k.Line, field, "unknown key")
		}
		if seen[key] {
			return p.errorf(k.Line, field, "duplicate key")
		}
		seen[key] = true
		p.lines[field] = k.Line
		if err := p.decode(val, field, v.Field(idx)); err != nil {
			return err
		}
	}
	return nil
}

// yamlFields maps the yaml key of each field of struct type t to its index.
func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int)
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			m[name] = i
		}
	}
	return m
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	default:
		return fmt.Sprintf("%q", n.Value)
	}
}

// valueError shortens a yaml.v3 decoding error to its reason.
func valueError(err error) string {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) && len(te.Errors) > 0 {
		msg = te.Errors[0]
	}
	msg = strings.TrimPrefix(msg, "yaml: ")
	if m := yamlLine.FindStringIndex(msg); m != nil && m[0] == 0 {
		msg = strings.TrimLeft(msg[m[1]:], ": ")
	}
	return msg
}
