package config

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// buildKeys builds rc's keys into c.Keys (keysNode is the keys: sequence,
// for line numbers) and returns an error for each key it drops: a bad key
// or a name already used.
func (c *Config) buildKeys(rc *raw, keysNode *yaml.Node, defaults policy, providerType, sinkType map[string]string, baseDir string) []error {
	var errs []error
	seen := map[string]int{} // key name → index in c.Keys
	in := newInterner()
	c.Keys = make([]Key, 0, len(rc.Keys))
	for i, rk := range rc.Keys {
		var kn *yaml.Node
		if keysNode != nil && i < len(keysNode.Content) {
			kn = keysNode.Content[i]
		}
		k, err := buildKey(rk, i, kn, defaults, providerType, sinkType, baseDir, in)
		refs, rerr := hookRefs(rk.Hooks, kn, k.Path, hookNames(&rc.Hooks))
		k.Hooks, err = refs, errors.Join(err, rerr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if j, ok := seen[k.Name]; ok {
			prev := c.Keys[j]
			errs = append(errs, Section{Path: k.Path, Node: kn}.Errorf("name", "%q is already used by %s (line %d)", k.Name, prev.Path, prev.Line))
			continue
		}
		seen[k.Name] = len(c.Keys)
		c.Keys = append(c.Keys, k)
	}
	return errs
}

func buildKey(rk rawKey, i int, n *yaml.Node, defaults policy, providerType, sinkType map[string]string, baseDir string, in *interner) (Key, error) {
	path := fmt.Sprintf("keys[%d]", i)
	sec := Section{Path: path, Node: n, BaseDir: baseDir}
	var errs []error
	k := Key{Name: rk.Name, Provider: rk.Provider, Params: in.paramsOf(rk.Params), Paused: rk.Paused, Path: path}
	if n != nil {
		k.Line = n.Line
	}
	switch {
	case rk.Name == "":
		errs = append(errs, sec.Errorf("name", "is required"))
	case !keyNameRE.MatchString(rk.Name):
		errs = append(errs, sec.Errorf("name", "%q must be 1-64 characters of a-z, 0-9 and -, not starting or ending with -", rk.Name))
	}
	switch {
	case rk.Provider == "":
		errs = append(errs, sec.Errorf("provider", "is required"))
	case providerType[rk.Provider] == "":
		errs = append(errs, sec.Errorf("provider", "%q is not defined under providers (defined: %s)", rk.Provider, strings.Join(sortedKeys(providerType), ", ")))
	}
	p := defaults
	if err := p.apply(rk.rawPolicy, sec); err != nil {
		errs = append(errs, err)
	}
	k.ScheduleSpec, k.Grace, k.KeepAlive, k.Jitter, k.Timeout = p.schedule, p.grace, p.keepalive, p.jitter, p.timeout
	k.NamePrefix, k.PruneOrphans, k.Revocation = p.prefix, p.prune, p.revocation
	errs = append(errs, checkRevocation(k, sec))
	if s, err := in.schedule(p.schedule); err == nil {
		k.Schedule = s
	}
	if len(rk.Sinks) == 0 {
		errs = append(errs, sec.Errorf("sinks", "at least one sink must be configured"))
	}
	for j := range rk.Sinks {
		t, err := buildTarget(&rk.Sinks[j], fmt.Sprintf("%s.sinks[%d]", path, j), sinkType, baseDir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		k.Targets = append(k.Targets, t)
	}
	return k, errors.Join(errs...)
}

func buildTarget(n *yaml.Node, path string, sinkType map[string]string, baseDir string) (Target, error) {
	sec := Section{Path: path, Node: n, BaseDir: baseDir}
	if n.Kind != yaml.MappingNode {
		return Target{}, &FieldError{Path: path, Line: n.Line, Err: errors.New("must be a mapping such as {sink: NAME, path: ...}")}
	}
	var head struct {
		Sink   string            `yaml:"sink"`
		Fields map[string]string `yaml:"fields"`
	}
	if err := n.Decode(&head); err != nil {
		return Target{}, &FieldError{Path: path, Line: n.Line, Err: cleanYAMLError(err)}
	}
	switch {
	case head.Sink == "":
		return Target{}, sec.Errorf("sink", "is required")
	case sinkType[head.Sink] == "":
		return Target{}, sec.Errorf("sink", "%q is not defined under sinks (defined: %s)", head.Sink, strings.Join(sortedKeys(sinkType), ", "))
	}
	seen := map[string]string{}
	for _, from := range sortedKeys(head.Fields) {
		to := head.Fields[from]
		if to == "" {
			return Target{}, sec.Errorf("fields", "%s is renamed to an empty name", from)
		}
		if prev, ok := seen[to]; ok {
			return Target{}, sec.Errorf("fields", "%s and %s are both renamed to %s", prev, from, to)
		}
		seen[to] = from
	}
	sec.Type = sinkType[head.Sink]
	return Target{Sink: head.Sink, Fields: head.Fields, Section: sec}, nil
}
