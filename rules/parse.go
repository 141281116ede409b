package rules

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// ParseError is a problem in a rule-set document, at a line when known.
type ParseError struct {
	File string
	Line int
	Msg  string
}

func (e *ParseError) Error() string {
	switch {
	case e.File != "" && e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	case e.File != "":
		return e.File + ": " + e.Msg
	case e.Line > 0:
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

// Parse reads a rule-set document. file names it in error messages, which
// read "file:line: reason". Unknown keys are refused; so are regular
// expressions that do not compile (the error names the rule), unknown
// categories, duplicate IDs and references to rules that do not exist.
//
// The document:
//
//	name: default
//	version: 3
//	thresholds: {flag: 1.0, review: 0.5}
//	obfuscation_weight: 0.5          # optional
//	negation:                        # optional
//	  window: 6
//	  before: {en: [not, "no"], zh: [不是]}
//	  after: {ja: [ではない]}
//	vocabulary: {...}                # optional: term lists to reuse with YAML anchors
//	exclusions: [...]                # optional: apply to every category
//	categories:
//	  - name: ivory
//	    rules:
//	      - id: ivory.term
//	        weight: 0.6
//	        max: 1.0                 # optional cap per listing
//	        terms: {en: [ivory], de: ["elfenbein*"], zh: [象牙]}
//	        regex: ['\bgenuine (\w+ )?ivory\b']
//	        requires: [okimono, netsuke]      # optional context terms
//	        within: 40               # optional: characters (same field), or "field"; default: the listing
//	        requires_rules: [ivory.other]     # optional
//	    exclusions:
//	      - id: ivory.colour
//	        terms: {en: [ivory white], zh: [象牙白]}
//	        window: 0                # characters; 0 = must overlap
//	        scope: near              # or "listing"
//	        rules: [ivory.term]      # optional: only these rules
//	        unless: [schreger]       # optional: void when present
//	        except: [ivory whiteness] # optional: phrases where a term is innocent
//
// Term lists are either a mapping from language code to terms or a plain
// list.
func Parse(file string, data []byte) (*RuleSet, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, yamlError(file, err)
	}
	p := &parser{file: file}
	rs := &RuleSet{File: file}
	if len(doc.Content) == 0 {
		return nil, &ParseError{File: file, Msg: "empty document"}
	}
	if err := p.ruleSet(doc.Content[0], rs); err != nil {
		return nil, err
	}
	if err := rs.check(); err != nil {
		return nil, err
	}
	return rs, nil
}

var yamlLine = regexp.MustCompile(`^yaml: (?:unmarshal errors:\s*)?line (\d+): (.*)$`)

// yamlError turns a yaml.v3 syntax error into a ParseError with its line.
func yamlError(file string, err error) error {
	msg := strings.TrimSpace(err.Error())
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &ParseError{File: file, Line: line, Msg: m[2]}
	}
	return &ParseError{File: file, Msg: strings.TrimPrefix(msg, "yaml: ")}
}

type parser struct{ file string }

func (p *parser) errf(n *yaml.Node, format string, args ...any) error {
	return &ParseError{File: p.file, Line: n.Line, Msg: fmt.Sprintf(format, args...)}
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// fields walks a mapping node, calling fn for each key; unknown keys are
// refused with what the mapping describes.
func (p *parser) fields(n *yaml.Node, what string, known map[string]func(v *yaml.Node) error) error {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		return p.errf(n, "%s must be a mapping", what)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], resolve(n.Content[i+1])
		if seen[k.Value] {
			return p.errf(k, "%s: key %q given twice", what, k.Value)
		}
		seen[k.Value] = true
		fn, ok := known[k.Value]
		if !ok {
			return p.errf(k, "unknown key %q in %s", k.Value, what)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) str(dst *string, what string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			return p.errf(n, "%s must be a string", what)
		}
		*dst = n.Value
		return nil
	}
}

func (p *parser) integer(dst *int, what string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		v, err := strconv.Atoi(n.Value)
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || err != nil {
			return p.errf(n, "%s must be an integer, not %q", what, n.Value)
		}
		*dst = v
		return nil
	}
}

func (p *parser) number(dst *float64, what string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		v, err := strconv.ParseFloat(n.Value, 64)
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || err != nil {
			return p.errf(n, "%s must be a number, not %q", what, n.Value)
		}
		*dst = v
		return nil
	}
}

func (p *parser) strings(dst *[]string, what string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if n.Kind != yaml.SequenceNode {
			return p.errf(n, "%s must be a list", what)
		}
		for _, c := range n.Content {
			c = resolve(c)
			if c.Kind != yaml.ScalarNode || c.Tag == "!!null" {
				return p.errf(c, "%s: each entry must be a string", what)
			}
			*dst = append(*dst, c.Value)
		}
		return nil
	}
}

// terms reads a term list: a mapping from language to list, or a list.
func (p *parser) terms(dst *Terms, what string) func(*yaml.Node) error {
	return func(n *yaml.Node) error {
		if *dst == nil {
			*dst = Terms{}
		}
		switch n.Kind {
		case yaml.SequenceNode:
			var l []string
			if err := p.strings(&l, what)(n); err != nil {
				return err
			}
			(*dst)[""] = append((*dst)[""], l...)
			return nil
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if !langPattern.MatchString(k.Value) {
					return p.errf(k, "%s: %q is not a language code", what, k.Value)
				}
				if _, dup := (*dst)[k.Value]; dup {
					return p.errf(k, "%s: language %q given twice", what, k.Value)
				}
				var l []string
				if err := p.strings(&l, what+"."+k.Value)(resolve(n.Content[i+1])); err != nil {
					return err
				}
				(*dst)[k.Value] = l
			}
			return nil
		}
		return p.errf(n, "%s must be a mapping from language to terms, or a list", what)
	}
}

func (p *parser) list(n *yaml.Node, what string, fn func(*yaml.Node) error) error {
	if n.Kind != yaml.SequenceNode {
		return p.errf(n, "%s must be a list", what)
	}
	for _, c := range n.Content {
		if err := fn(resolve(c)); err != nil {
			return err
		}
	}
	return nil
}

func (p *parser) ruleSet(n *yaml.Node, rs *RuleSet) error {
	err := p.fields(n, "rule set", map[string]func(*yaml.Node) error{
		"name":    p.str(&rs.Name, "name"),
		"version": p.integer(&rs.Version, "version"),
		"thresholds": func(v *yaml.Node) error {
			return p.fields(v, "thresholds", map[string]func(*yaml.Node) error{
				"flag":   p.number(&rs.Threshold, "thresholds.flag"),
				"review": p.number(&rs.ReviewThreshold, "thresholds.review"),
			})
		},
		"obfuscation_weight": p.number(&rs.ObfuscationWeight, "obfuscation_weight"),
		"negation": func(v *yaml.Node) error {
			return p.fields(v, "negation", map[string]func(*yaml.Node) error{
				"window": p.integer(&rs.Negation.Window, "negation.window"),
				"before": p.terms(&rs.Negation.Before, "negation.before"),
				"after":  p.terms(&rs.Negation.After, "negation.after"),
			})
		},
		"vocabulary": func(v *yaml.Node) error {
			if v.Kind != yaml.MappingNode {
				return p.errf(v, "vocabulary must be a mapping")
			}
			return nil
		},
		"exclusions": func(v *yaml.Node) error {
			return p.list(v, "exclusions", func(e *yaml.Node) error {
				x, err := p.exclusion(e)
				rs.Exclusions = append(rs.Exclusions, x)
				return err
			})
		},
		"categories": func(v *yaml.Node) error {
			return p.list(v, "categories", func(c *yaml.Node) error {
				cat := Category{Line: c.Line}
				err := p.fields(c, "category", map[string]func(*yaml.Node) error{
					"name": p.str(&cat.Name, "category name"),
					"rules": func(v *yaml.Node) error {
						return p.list(v, "rules", func(r *yaml.Node) error {
							rule, err := p.rule(r)
							cat.Rules = append(cat.Rules, rule)
							return err
						})
					},
					"exclusions": func(v *yaml.Node) error {
						return p.list(v, "exclusions", func(e *yaml.Node) error {
							x, err := p.exclusion(e)
							cat.Exclusions = append(cat.Exclusions, x)
							return err
						})
					},
				})
				rs.Categories = append(rs.Categories, cat)
				return err
			})
		},
	})
	if err != nil {
		return err
	}
	if err := rs.validate(); err != nil {
		return p.errf(n, "%v", err)
	}
	return nil
}

func (p *parser) rule(n *yaml.Node) (Rule, error) {
	r := Rule{Line: n.Line}
	err := p.fields(n, "rule", map[string]func(*yaml.Node) error{
		"id":             p.str(&r.ID, "rule id"),
		"weight":         p.number(&r.Weight, "weight"),
		"max":            p.number(&r.Max, "max"),
		"terms":          p.terms(&r.Terms, "terms"),
		"regex":          p.strings(&r.Regex, "regex"),
		"requires":       p.terms(&r.Requires, "requires"),
		"requires_rules": p.strings(&r.RequiresRules, "requires_rules"),
		"within": func(v *yaml.Node) error {
			if v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == "field" {
				r.Within = WithinField
				return nil
			}
			if err := p.integer(&r.Within, "within")(v); err != nil || r.Within < 1 {
				return p.errf(v, "within must be \"field\" or a number of characters (1 or more), not %q", v.Value)
			}
			return nil
		},
	})
	return r, err
}

func (p *parser) exclusion(n *yaml.Node) (Exclusion, error) {
	x := Exclusion{Line: n.Line}
	var scope string
	err := p.fields(n, "exclusion", map[string]func(*yaml.Node) error{
		"id":     p.str(&x.ID, "exclusion id"),
		"terms":  p.terms(&x.Terms, "terms"),
		"regex":  p.strings(&x.Regex, "regex"),
		"window": p.integer(&x.Window, "window"),
		"scope": func(v *yaml.Node) error {
			if err := p.str(&scope, "scope")(v); err != nil {
				return err
			}
			switch scope {
			case "near":
			case "listing":
				x.Listing = true
			default:
				return p.errf(v, "scope must be \"near\" or \"listing\", not %q", scope)
			}
			return nil
		},
		"rules":  p.strings(&x.Rules, "rules"),
		"unless": p.terms(&x.Unless, "unless"),
		"except": p.terms(&x.Except, "except"),
	})
	return x, err
}

// check validates a rule set's content. Errors are *ParseError carrying the
// rule set's file and the line of the offending rule when known.
func (rs *RuleSet) check() error {
	fail := func(line int, format string, args ...any) error {
		return &ParseError{File: rs.File, Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	if err := rs.validate(); err != nil {
		return fail(0, "%v", err)
	}
	if rs.ObfuscationWeight < 0 || rs.Negation.Window < 0 {
		return fail(0, "obfuscation_weight and negation.window must not be negative")
	}
	for _, t := range append(rs.Negation.Before.all(), rs.Negation.After.all()...) {
		if _, err := parseTerm(t); err != nil {
			return fail(0, "negation: %v", err)
		}
	}
	known := map[string]bool{}
	for _, c := range KnownCategories {
		known[c] = true
	}
	ids := map[string]string{} // id → what
	cats := map[string]bool{}
	claim := func(id, what string, line int) error {
		if !idPattern.MatchString(id) {
			return fail(line, "%s id %q must be lower-case letters, digits, '.', '_' or '-'", what, id)
		}
		if id == ObfuscationRule {
			return fail(line, "%s id %q is reserved for the obfuscation bonus", what, id)
		}
		if prev, dup := ids[id]; dup {
			return fail(line, "%s id %q is already used by a %s", what, id, prev)
		}
		ids[id] = what
		return nil
	}
	for _, c := range rs.Categories {
		if !known[c.Name] {
			return fail(c.Line, "unknown category %q (known: %s)", c.Name, strings.Join(KnownCategories, ", "))
		}
		if cats[c.Name] {
			return fail(c.Line, "category %q given twice", c.Name)
		}
		cats[c.Name] = true
		for _, r := range c.Rules {
			if err := claim(r.ID, "rule", r.Line); err != nil {
				return err
			}
		}
	}
	for _, c := range rs.Categories {
		for _, r := range c.Rules {
			if err := rs.checkRule(r, ids); err != nil {
				return fail(r.Line, "rule %s: %v", r.ID, err)
			}
		}
	}
	excls := append([]Exclusion(nil), rs.Exclusions...)
	for _, c := range rs.Categories {
		excls = append(excls, c.Exclusions...)
	}
	for _, x := range excls {
		if err := claim(x.ID, "exclusion", x.Line); err != nil {
			return err
		}
		if err := checkExclusion(x, ids); err != nil {
			return fail(x.Line, "exclusion %s: %v", x.ID, err)
		}
	}
	return nil
}

func (rs *RuleSet) checkRule(r Rule, ids map[string]string) error {
	if r.Weight <= 0 {
		return errors.New("weight must be positive")
	}
	if r.Max < 0 {
		return errors.New("max must not be negative")
	}
	if len(r.Terms.all()) == 0 && len(r.Regex) == 0 {
		return errors.New("no terms and no regex")
	}
	if err := checkTerms(r.Terms, r.Regex); err != nil {
		return err
	}
	if err := checkTerms(r.Requires, nil); err != nil {
		return fmt.Errorf("requires: %w", err)
	}
	if r.Within != 0 && len(r.Requires.all()) == 0 {
		return errors.New("within needs requires: it says where the required terms must be")
	}
	for _, dep := range r.RequiresRules {
		if ids[dep] != "rule" {
			return fmt.Errorf("requires_rules: no rule %q", dep)
		}
		if dep == r.ID {
			return errors.New("requires_rules names the rule itself")
		}
		if d := rs.rule(dep); d != nil && len(d.RequiresRules) > 0 {
			return fmt.Errorf("requires_rules: rule %q has requires_rules of its own", dep)
		}
	}
	return nil
}

func checkExclusion(x Exclusion, ids map[string]string) error {
	if len(x.Terms.all()) == 0 && len(x.Regex) == 0 {
		return errors.New("no terms and no regex")
	}
	if x.Window < 0 {
		return errors.New("window must not be negative")
	}
	if err := checkTerms(x.Terms, x.Regex); err != nil {
		return err
	}
	if err := checkTerms(x.Unless, nil); err != nil {
		return fmt.Errorf("unless: %w", err)
	}
	if err := checkTerms(x.Except, nil); err != nil {
		return fmt.Errorf("except: %w", err)
	}
	for _, id := range x.Rules {
		if ids[id] != "rule" {
			return fmt.Errorf("rules: no rule %q", id)
		}
	}
	return nil
}

func checkTerms(t Terms, regex []string) error {
	for _, s := range t.all() {
		if _, err := parseTerm(s); err != nil {
			return err
		}
	}
	for _, re := range regex {
		c, err := regexp.Compile(re)
		if err != nil {
			return fmt.Errorf("regexp %q: %w", re, err)
		}
		if c.MatchString("") {
			return fmt.Errorf("regexp %q matches the empty string", re)
		}
	}
	return nil
}

// rule finds a rule by ID.
func (rs *RuleSet) rule(id string) *Rule {
	for ci := range rs.Categories {
		for ri := range rs.Categories[ci].Rules {
			if rs.Categories[ci].Rules[ri].ID == id {
				return &rs.Categories[ci].Rules[ri]
			}
		}
	}
	return nil
}
