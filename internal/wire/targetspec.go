package wire

import (
	"encoding/json"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
)

// targetSpec is a target's section without the engine's fields (sink and
// fields), as compact JSON with sorted keys: {"path":"mail.env"}. The
// engine records it in the key's state (rotate.BoundTarget.Spec), so that
// `rotator retire` can bind the target again once the key has left the
// policy.
//
// It is written straight from the YAML nodes when they hold only plain
// strings, decimal integers, booleans and nulls (every shipped target
// option), and through a decode into map[string]any and json.Marshal
// otherwise, which gives the same text. The direct path leaves no garbage
// among the keys' long-lived objects while wire allocates them: at 10,000
// keys the decode made the idle daemon's heap 2.4 MiB larger in pages than
// in objects (docs/performance.md).
func targetSpec(t config.Target) string {
	n := t.Section.Node
	if n == nil {
		return ""
	}
	var scratch [256]byte
	if b, ok := appendSpec(scratch[:0], n, true); ok {
		return string(b)
	}
	var m map[string]any
	if n.Decode(&m) != nil {
		return ""
	}
	delete(m, "sink")
	delete(m, "fields")
	js, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return string(js)
}

// appendSpec appends n as json.Marshal would write its decoded value, or
// reports false for a node it leaves to json.Marshal. top drops the
// engine's fields (sink, fields) from the target's own mapping.
func appendSpec(b []byte, n *yaml.Node, top bool) ([]byte, bool) {
	switch n.Kind {
	case yaml.ScalarNode:
		return appendScalar(b, n)
	case yaml.SequenceNode:
		b = append(b, '[')
		for i, c := range n.Content {
			if i > 0 {
				b = append(b, ',')
			}
			var ok bool
			if b, ok = appendSpec(b, c, false); !ok {
				return b, false
			}
		}
		return append(b, ']'), true
	case yaml.MappingNode:
		var keys [8]int // indexes of the keys in n.Content, in key order
		order := keys[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.ShortTag() != "!!str" || !plain(k.Value) {
				return b, false
			}
			if !top || (k.Value != "sink" && k.Value != "fields") {
				order = append(order, i)
			}
		}
		slices.SortFunc(order, func(i, j int) int { return strings.Compare(n.Content[i].Value, n.Content[j].Value) })
		b = append(b, '{')
		for x, i := range order {
			if x > 0 {
				b = append(b, ',')
			}
			b = append(append(append(b, '"'), n.Content[i].Value...), '"', ':')
			var ok bool
			if b, ok = appendSpec(b, n.Content[i+1], false); !ok {
				return b, false
			}
		}
		return append(b, '}'), true
	}
	return b, false // aliases and documents
}

func appendScalar(b []byte, n *yaml.Node) ([]byte, bool) {
	switch v := n.Value; n.ShortTag() {
	case "!!str":
		if !plain(v) {
			return b, false
		}
		return append(append(append(b, '"'), v...), '"'), true
	case "!!null":
		return append(b, "null"...), true
	case "!!bool":
		return append(b, v...), v == "true" || v == "false"
	case "!!int":
		return append(b, v...), decimal(v)
	}
	return b, false // floats, timestamps, binary, merge keys
}

// plain reports whether json.Marshal writes s as itself between quotes:
// printable ASCII without ", \ and the HTML characters it escapes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// decimal reports whether s is an integer written as json.Marshal writes
// it (no sign but -, no leading zero, no underscore, base 10).
func decimal(s string) bool {
	d := strings.TrimPrefix(s, "-")
	if d == "" || (d[0] == '0' && len(d) > 1) || len(d) > 18 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	return d != "0" || s == "0"
}
