package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Section is one provider, one sink, or one of a key's sink targets, kept as
// YAML until the backend named by its type decodes it into its own Config
// type. This keeps strictness per kind: a Vault option on a file sink is an
// error, which a flat union struct could not say.
type Section struct {
	// Path is the YAML path of the section, for example
	// "providers.smtpd-prod" or "keys[0].sinks[1]".
	Path string
	// Type is the backend kind: a provider's or sink's `type`, or for a key's
	// target the type of the sink it names.
	Type string
	// BaseDir is the folder of the configuration file; relative paths in the
	// section resolve against it.
	BaseDir string
	// Node is the section's YAML mapping.
	Node *yaml.Node
	// Warnings receives the section's warnings (Warnf); nil drops them.
	Warnings *Warnings
}

// Decode decodes the section strictly into out, a pointer to a struct with
// yaml tags: a field that out does not declare is an error naming its YAML
// path and line. Keys listed in skip (such as "type") are allowed and
// ignored. Errors are *FieldError values.
func (s Section) Decode(out any, skip ...string) error {
	if s.Node == nil {
		return nil
	}
	rt := reflect.TypeOf(out)
	if rt == nil || rt.Kind() != reflect.Pointer {
		return fmt.Errorf("config: Decode needs a pointer, got %T", out)
	}
	if err := checkKnown(s.Node, rt.Elem(), s.Path, skip); err != nil {
		return err
	}
	if err := s.Node.Decode(out); err != nil {
		return &FieldError{Path: s.Path, Line: s.Node.Line, Err: cleanYAMLError(err)}
	}
	return nil
}

// Field returns a FieldError for the named field of this section, with the
// line of that field when it is present.
func (s Section) Field(name string, err error) *FieldError {
	fe := &FieldError{Path: join(s.Path, name), Err: err}
	if n := s.lookup(name); n != nil {
		fe.Line = n.Line
	} else if s.Node != nil {
		fe.Line = s.Node.Line
	}
	return fe
}

// Errorf is Field with a formatted message.
func (s Section) Errorf(name, format string, args ...any) *FieldError {
	return s.Field(name, fmt.Errorf(format, args...))
}

// Has reports whether the section sets the named field.
func (s Section) Has(name string) bool { return s.lookup(name) != nil }

func (s Section) lookup(name string) *yaml.Node {
	if s.Node == nil || s.Node.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(s.Node.Content); i += 2 {
		if s.Node.Content[i].Value == name {
			return s.Node.Content[i]
		}
	}
	return nil
}

// Resolve returns p resolved against the configuration file's folder when it
// is relative; "" stays "".
func (s Section) Resolve(p string) string {
	if p == "" || filepath.IsAbs(p) || s.BaseDir == "" {
		return p
	}
	return filepath.Join(s.BaseDir, p)
}

// Secret returns the value of a secret field given either inline (name) or
// as a file (name + "_file"), exactly one of which must be set when required
// is true, and at most one otherwise. The file must be a regular file of
// at most MaxSecretFile bytes; one that other users may read is a warning.
// Its trailing newline is removed. Errors name the field and never include
// the value.
func (s Section) Secret(name string, inline Secret, file string, required bool) (Secret, error) {
	switch {
	case inline != "" && file != "":
		return "", s.Errorf(name, "at most one of %s & %s_file must be configured", name, name)
	case inline != "":
		return inline, nil
	case file != "":
		path := s.Resolve(file)
		b, perm, err := readSecretFile(path)
		if s.offlineMissing(name+"_file", path, err) {
			return OfflineSecret, nil
		}
		if err != nil {
			return "", s.Field(name+"_file", fmt.Errorf("read secret file: %w", err))
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", s.Errorf(name+"_file", "file %s is empty", path)
		}
		if perm&0o044 != 0 {
			s.Warnf(name+"_file", "secret file %s is readable by other users (mode %04o): chmod 600 it, or 640 for a group only rotator's user is in", path, perm)
		}
		return Secret(v), nil
	case required:
		return "", s.Errorf(name, "one of %s or %s_file must be configured", name, name)
	}
	return "", nil
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// checkKnown walks a YAML node against a Go type and reports the first key
// the type does not declare, since yaml.v3 forgets KnownFields(true) inside
// Node.Decode. The error's Path is path joined with the key's path below it.
func checkKnown(n *yaml.Node, t reflect.Type, path string, skip []string) error {
	if fe := known(n, t, skip); fe != nil {
		fe.Path = under(path, fe.Path)
		return fe
	}
	return nil
}

// known is checkKnown with the path relative to n. It allocates nothing
// unless it finds an unknown key: a 10,000-key policy walks ~200,000 nodes.
func known(n *yaml.Node, t reflect.Type, skip []string) *FieldError {
	ti := typeInfoOf(t)
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if ti.duration {
		return checkDuration(n)
	}
	if ti.opaque {
		return nil
	}
	switch ti.kind {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return nil // node.Decode reports the type mismatch
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if contains(skip, k.Value) {
				continue
			}
			ft, ok := ti.fields[k.Value]
			if !ok {
				return &FieldError{Path: k.Value, Line: k.Line,
					Err: fmt.Errorf("unknown field %q (known: %s)", k.Value, strings.Join(sortedKeys(ti.fields), ", "))}
			}
			if fe := known(v, ft, nil); fe != nil {
				fe.Path = under(k.Value, fe.Path)
				return fe
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind != yaml.SequenceNode {
			return nil
		}
		for i, c := range n.Content {
			if fe := known(c, ti.elem, nil); fe != nil {
				fe.Path = under(fmt.Sprintf("[%d]", i), fe.Path)
				return fe
			}
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return nil
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if fe := known(n.Content[i+1], ti.elem, nil); fe != nil {
				fe.Path = under(n.Content[i].Value, fe.Path)
				return fe
			}
		}
	}
	return nil
}

// under joins a YAML path and a path below it ("keys" and "[1].name" make
// "keys[1].name").
func under(path, rel string) string {
	switch {
	case path == "":
		return rel
	case rel == "":
		return path
	case rel[0] == '[':
		return path + rel
	}
	return path + "." + rel
}

// typeInfo is what checkKnown needs of a Go type, computed once per type.
type typeInfo struct {
	kind reflect.Kind
	// opaque types decode themselves (yaml.Node, yaml.Unmarshaler): their
	// content is not checked.
	opaque bool
	// duration is Duration, checked here so that its errors name their
	// YAML path (its UnmarshalYAML knows only the line).
	duration bool
	fields   map[string]reflect.Type // struct: YAML key → field type
	elem     reflect.Type            // slice, array, map: the element type
}

var typeInfos sync.Map // reflect.Type → *typeInfo

func typeInfoOf(t reflect.Type) *typeInfo {
	if ti, ok := typeInfos.Load(t); ok {
		return ti.(*typeInfo)
	}
	u := t
	for u.Kind() == reflect.Pointer {
		u = u.Elem()
	}
	ti := &typeInfo{kind: u.Kind(), opaque: u == nodeType || reflect.PointerTo(u).Implements(unmarshalerType) || u.Implements(unmarshalerType),
		duration: u == durationType}
	switch ti.kind {
	case reflect.Struct:
		ti.fields = yamlFields(u)
	case reflect.Slice, reflect.Array, reflect.Map:
		ti.elem = u.Elem()
	}
	typeInfos.Store(t, ti)
	return ti
}

var (
	unmarshalerType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	nodeType        = reflect.TypeOf(yaml.Node{})
	durationType    = reflect.TypeOf(Duration(0))
)

func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if !f.IsExported() && !(f.Anonymous && strings.Contains(tag, "inline")) {
			continue
		}
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
