package rules

import (
	_ "embed"
	"fmt"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the default rule pack as embedded in the binary, for
// `wildwatch rules show` and as a starting point for a custom pack.
func DefaultYAML() []byte {
	return append([]byte(nil), defaultYAML...)
}

// Default returns the parsed default rule pack. It panics only if the
// embedded file is broken, which the package's tests rule out.
func Default() *RuleSet {
	rs, err := Parse("default.yaml", defaultYAML)
	if err != nil {
		panic(fmt.Sprintf("rules: embedded default pack: %v", err))
	}
	return rs
}
