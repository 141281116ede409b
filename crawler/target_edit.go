package crawler

import (
	"bytes"
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"

	"github.com/wildwatch/wildwatch"
)

// SetSchedule returns the target document src with its schedule replaced
// by s (removed when s is nil), and the target it now describes, checked
// as ParseTarget checks it. The rest of the document, comments included,
// is kept, though it is written out again with two-space indentation. An
// empty src (a target stored without its document) is written from t.
// Errors are *TargetError when the edited document is not a valid target.
func SetSchedule(file string, src []byte, t wildwatch.Target, s *wildwatch.Schedule) ([]byte, wildwatch.Target, error) {
	if len(bytes.TrimSpace(src)) == 0 {
		var err error
		if src, err = yaml.Marshal(t); err != nil {
			return nil, wildwatch.Target{}, fmt.Errorf("writing target %s: %w", t.Name, err)
		}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, wildwatch.Target{}, syntaxError(file, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, wildwatch.Target{}, &TargetError{File: file, Line: 1, Reason: "want a mapping"}
	}
	root := doc.Content[0]
	var value *yaml.Node
	if s != nil {
		value = new(yaml.Node)
		if err := value.Encode(s); err != nil {
			return nil, wildwatch.Target{}, fmt.Errorf("encoding schedule: %w", err)
		}
	}
	setKey(root, "schedule", value)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, wildwatch.Target{}, fmt.Errorf("writing target %s: %w", t.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, wildwatch.Target{}, fmt.Errorf("writing target %s: %w", t.Name, err)
	}
	out := b.Bytes()
	nt, err := ParseTarget(file, out)
	if err != nil {
		var te *TargetError
		if errors.As(err, &te) {
			return nil, wildwatch.Target{}, te
		}
		return nil, wildwatch.Target{}, err
	}
	return out, nt, nil
}

// setKey sets key of mapping m to value, in place when the key is there,
// else at the end; a nil value removes the key.
func setKey(m *yaml.Node, key string, value *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != key {
			continue
		}
		if value == nil {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
		m.Content[i+1] = value
		return
	}
	if value != nil {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, value)
	}
}
