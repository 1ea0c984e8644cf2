package config

import (
	"errors"
	"fmt"

	"gopkg.in/yaml.v3"
)

// checkDuplicates reports every mapping key defined twice in one mapping,
// at any depth, with its YAML path and both lines. yaml.v3 reports them
// only where it decodes into a struct or a map; providers, sinks and
// targets are kept as nodes, where the last one would silently win.
func checkDuplicates(root *yaml.Node) error {
	var errs []error
	duplicatesBelow(root, "", &errs)
	return errors.Join(errs...)
}

// duplicatesBelow walks n; it builds a path only for a node that holds
// mappings or sequences, and allocates nothing else unless it finds a
// duplicate.
func duplicatesBelow(n *yaml.Node, path string, errs *[]error) {
	switch n.Kind {
	case yaml.MappingNode:
		var seen map[string]*yaml.Node // for large mappings only
		if len(n.Content) > 2*maxScan {
			seen = make(map[string]*yaml.Node, len(n.Content)/2)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if first := firstKey(n, i, seen); first != nil {
				*errs = append(*errs, &FieldError{Path: under(path, k.Value), Line: k.Line,
					Err: fmt.Errorf("defined twice: first at line %d; remove one (the second would silently replace the first)", first.Line)})
			}
			if v := n.Content[i+1]; v.Kind == yaml.MappingNode || v.Kind == yaml.SequenceNode {
				duplicatesBelow(v, under(path, k.Value), errs)
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if c.Kind == yaml.MappingNode || c.Kind == yaml.SequenceNode {
				duplicatesBelow(c, under(path, fmt.Sprintf("[%d]", i)), errs)
			}
		}
	case yaml.DocumentNode:
		for _, c := range n.Content {
			duplicatesBelow(c, path, errs)
		}
	}
}

// maxScan is the size of mapping (in keys) up to which firstKey compares
// each key with those before it rather than keeping a map.
const maxScan = 32

// firstKey returns the key before position i of mapping m that equals the
// key at i, or nil. seen, when not nil, holds the keys before i and gets
// the key at i.
func firstKey(m *yaml.Node, i int, seen map[string]*yaml.Node) *yaml.Node {
	k := m.Content[i]
	if k.Kind != yaml.ScalarNode {
		return nil
	}
	if seen != nil {
		if p, ok := seen[k.Value]; ok {
			return p
		}
		seen[k.Value] = k
		return nil
	}
	for j := 0; j < i; j += 2 {
		if p := m.Content[j]; p.Kind == yaml.ScalarNode && p.Value == k.Value {
			return p
		}
	}
	return nil
}
