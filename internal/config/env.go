package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

var envRefRE = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandEnv replaces ${VAR} in every scalar value; $$ is a literal $. An
// unset variable is an error naming the field (path joined with the
// field's path below n).
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
		var missing string
		n.Value = envRefRE.ReplaceAllStringFunc(n.Value, func(m string) string {
			if m == "$$" {
				return "$"
			}
			name := m[2 : len(m)-1]
			v, ok := os.LookupEnv(name)
			if !ok && missing == "" {
				missing = name
			}
			return v
		})
		if missing != "" {
			return &FieldError{Line: n.Line, Err: fmt.Errorf("environment variable %s is not set", missing)}
		}
	}
	return nil
}
