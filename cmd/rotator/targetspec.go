package main

import (
	"encoding/json"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/wire"
)

// buildPolicy wires the policy and gives each bound target its options
// (rotate.BoundTarget.Spec): the engine records them in the key's state,
// so that `rotator retire` can read the key's targets once the key has
// left the policy. They are read from cfg's YAML before wire.Build, which
// may drop it.
func buildPolicy(cfg *config.Config, d wire.Deps) (*wire.Built, error) {
	specs := make(map[string][]string, len(cfg.Keys))
	for _, k := range cfg.Keys {
		s := make([]string, len(k.Targets))
		for i, t := range k.Targets {
			s[i] = targetSpec(t)
		}
		specs[k.Name] = s
	}
	built, err := wire.Build(cfg, d)
	if err != nil {
		return nil, err
	}
	for _, m := range built.Keys {
		if s := specs[m.Policy.Name]; len(s) == len(m.Targets) { // wire binds one target per entry, in order
			for i := range m.Targets {
				m.Targets[i].Spec = s[i]
			}
		}
	}
	return built, nil
}

// targetSpec is a target's section without the engine's fields (sink and
// fields), as compact JSON: {"path":"mail.env"}.
func targetSpec(t config.Target) string {
	if t.Section.Node == nil {
		return ""
	}
	var m map[string]any
	if t.Section.Node.Decode(&m) != nil {
		return ""
	}
	delete(m, "sink")
	delete(m, "fields")
	b, err := json.Marshal(m)
	if err != nil {
		return ""
	}
	return string(b)
}
