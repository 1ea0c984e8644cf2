package wire

import (
	"encoding/json"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rotator-dev/rotator/internal/config"
)

// The spec written from the nodes is the text json.Marshal writes for the
// decoded section, and what it cannot write exactly goes through
// json.Marshal.
func TestTargetSpecIsTheSectionAsJSON(t *testing.T) {
	for _, c := range []struct {
		src    string
		direct bool // written from the nodes, without json.Marshal
	}{
		{`{sink: out, path: mail.env, format: env, fields: {key: K}}`, true},
		{`{sink: out, path: a/b.json, adopt: true, mode: 384, version: -2, zero: 0, none: ~, empty: }`, true},
		{`{sink: v, path: secret/mail, tags: {team: mail, env: prod}, list: [a, 1, false, {x: y}]}`, true},
		{`{sink: out, path: "quoted 123", n: "42", b: "true"}`, true},
		{`{sink: out}`, true},
		{`{sink: out, path: "<html> & \"quotes\"", note: "tab\there", u: "é"}`, false},
		{`{sink: out, octal: 0o17, hex: 0x1F, float: 1.5, big: 123456789012345678901, yes: True, when: 2001-12-14}`, false},
		{`{sink: out, base: &b {path: x}, copy: *b}`, false},
		{`{sink: out, <<: {path: merged}}`, false},
	} {
		src := c.src
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		var m map[string]any
		if err := doc.Content[0].Decode(&m); err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		delete(m, "sink")
		delete(m, "fields")
		want, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if _, direct := appendSpec(nil, doc.Content[0], true); direct != c.direct {
			t.Errorf("%s: written from the nodes: %v, want %v", src, direct, c.direct)
		}
		if got := targetSpec(config.Target{Section: config.Section{Node: doc.Content[0]}}); got != string(want) {
			t.Errorf("%s:\n got %s\nwant %s", src, got, want)
		}
	}
}
