package wire

import (
	"encoding/json"

	"github.com/rotator-dev/rotator/internal/config"
)

// targetSpec is a target's section without the engine's fields (sink and
// fields), as compact JSON: {"path":"mail.env"}. The engine records it in
// the key's state (rotate.BoundTarget.Spec), so that `rotator retire` can
// bind the target again once the key has left the policy.
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
