package rotate_test

import (
	"context"
	"testing"

	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
)

// A sink write is logged once, by the engine, as "sink written" with
// snake_case fields: the key, the sink, the target, the key id written
// and, only where the sink keeps versions, the version (no empty
// "version" field for a file).
func TestSinkWriteIsLoggedOnceWithItsFields(t *testing.T) {
	h := newHarness(t, nil)
	mem := h.Memory[1]
	mem.WriteFunc = func(ctx context.Context, w sinks.Write) (string, error) {
		mem.Put(w.Data)
		return "", nil // unversioned, as a file
	}
	h.MustEval(rotate.Mode{})
	id := h.State().Current.ID
	lines := h.Logs.FilterMessage("sink written").All()
	if len(lines) != 2 {
		t.Fatalf("%d sink written lines, want one per target (2): %v", len(lines), lines)
	}
	want := []map[string]any{
		{"key": "mail", "sink": "a", "target": "fake a", "key_id": id, "version": "1"},
		{"key": "mail", "sink": "b", "target": "fake b", "key_id": id},
	}
	for i, e := range lines {
		got := e.ContextMap()
		if len(got) != len(want[i]) {
			t.Errorf("line %d: fields %v, want %v", i, got, want[i])
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
	}
}
