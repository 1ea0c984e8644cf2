package config

import (
	"strings"
	"testing"
)

// TestSyntaxErrorsPointAtTheProblem: a YAML syntax error names the line
// and column of the offending text and quotes it with a caret. yaml.v3
// alone reports the line before the collection being parsed: the
// dedented params below (line 27) was "line 24".
func TestSyntaxErrorsPointAtTheProblem(t *testing.T) {
	dedented := good + `  - name: third
    provider: emailit
  params: {scope: sending}
    sinks: [{sink: local, path: t.json}]
`
	tests := map[string]struct{ yaml, want string }{
		"dedented params": {dedented, "parse config: line 27, column 3: did not find expected '-' indicator (is this line indented like the lines around it?)\n" +
			"    params: {scope: sending}\n" +
			"    ^"},
		"over-indented field": {"keys:\n  - name: a\n    provider: p\n      params: {x: y}\n", "parse config: line 4, column 13: mapping values are not allowed in this context (is this line indented like the lines around it?)\n" +
			"        params: {x: y}\n" +
			"              ^"},
		"second colon": {"listen: a: b\n", "parse config: line 1, column 10: mapping values are not allowed in this context (is this line indented like the lines around it?)\n" +
			"  listen: a: b\n" +
			"           ^"},
		"dedented mapping key": {"defaults:\n  grace: 1h\n keepalive: 2h\n", "parse config: line 3, column 2: did not find expected key (is this line indented like the lines around it?)\n" +
			"   keepalive: 2h\n" +
			"   ^"},
		"tab": {"listen: a\n\tstate: b\n", "parse config: line 2, column 1: found a tab character that violates indentation (indent with spaces)\n" +
			"  \tstate: b\n" +
			"  ^"},
		"unclosed list": {"listen: a\nkeys: [a, b\nstate: {}\n", "parse config: line 2, column 7: did not find expected ',' or ']'\n" +
			"  keys: [a, b\n" +
			"        ^"},
		"unclosed quote": {"listen: a\nstate: 'x\nkeys: []\n", "parse config: line 2, column 8: found unexpected end of stream\n" +
			"  state: 'x\n" +
			"         ^"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tc.yaml), "/etc/rotator")
			if err == nil || err.Error() != tc.want {
				t.Errorf("error:\n got: %v\nwant: %s", err, tc.want)
			}
		})
	}
}
