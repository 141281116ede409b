package rules

import "fmt"

// CompileVersion parses and compiles a rule set stored as version of name
// (the catalog's numbering, which replaces the document's own name and
// version), so its matcher's Version is "name@version".
func CompileVersion(name string, version int, src []byte) (*Matcher, error) {
	rs, err := Parse(fmt.Sprintf("%s@%d", name, version), src)
	if err != nil {
		return nil, err
	}
	rs.Name, rs.Version = name, version
	m, err := Compile(rs)
	if err != nil {
		return nil, fmt.Errorf("compiling rule set %s@%d: %w", name, version, err)
	}
	return m, nil
}
