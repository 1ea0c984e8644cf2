package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// envRefRE matches $$, ${VAR}, ${VAR:-default}, and any other ${...}
// (which is refused rather than left as it is).
var envRefRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}|\$\{[^}]*\}?`)

// expandEnv replaces ${VAR} in every scalar value, and ${VAR:-default}
// (the shell's form: default when VAR is unset or empty); $$ is a literal
// $. An unset variable without a default, or another ${...} form, is an
// error naming the field (path joined with the field's path below n) and
// the variable.
func expandEnv(n *yaml.Node, path string) error {
	if fe := expandEnvBelow(n); fe != nil {
		fe.Path = under(path, fe.Path)
		return fe
	}
	return nil
}

// expandEnvBelow is expandEnv with the error's path relative to n; it
// builds no path unless a variable is missing.
func expandEnvBelow(n *yaml.Node) *FieldError {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if fe := expandEnvBelow(n.Content[i+1]); fe != nil {
				fe.Path = under(n.Content[i].Value, fe.Path)
				return fe
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if fe := expandEnvBelow(c); fe != nil {
				fe.Path = under(fmt.Sprintf("[%d]", i), fe.Path)
				return fe
			}
		}
	case yaml.ScalarNode:
		if !strings.Contains(n.Value, "$") {
			return nil
		}
		var bad error
		n.Value = envRefRE.ReplaceAllStringFunc(n.Value, func(m string) string {
			v, err := expandRef(m)
			if err != nil && bad == nil {
				bad = err
			}
			return v
		})
		if bad != nil {
			return &FieldError{Line: n.Line, Err: bad}
		}
	}
	return nil
}

// expandRef is the value of one envRefRE match.
func expandRef(m string) (string, error) {
	if m == "$$" {
		return "$", nil
	}
	sub := envRefRE.FindStringSubmatch(m)
	name, def := sub[1], sub[2]
	if name == "" {
		return m, fmt.Errorf("%s is not a form rotator expands: write ${VAR}, ${VAR:-default}, or $$ for a literal $", m)
	}
	v, ok := os.LookupEnv(name)
	switch {
	case def != "" && v == "":
		return def[2:], nil
	case !ok:
		return "", fmt.Errorf("environment variable %s is not set (give a default with ${%s:-value}; $$ is a literal $)", name, name)
	}
	return v, nil
}
