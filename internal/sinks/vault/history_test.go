package vault_test

import (
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks"
)

// TestPreviousReturnsEarlierVersions: KV v2 keeps earlier versions, so a
// key in its grace period can still be kept alive after the path was
// overwritten; KV v1 keeps none.
func TestPreviousReturnsEarlierVersions(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	tg := bind(t, newSink(t, f, f.authYAML("token"), sinks.Deps{}), uniquePath("history"))
	hr, ok := tg.(sinks.HistoryReader)
	if !ok {
		t.Fatalf("the KV target must implement sinks.HistoryReader: got false, want true")
	}
	prev, err := hr.Previous(ctx, 3)
	if err != nil {
		t.Fatalf("hr.Previous: %v", err)
	}
	if len(prev) != 0 {
		t.Fatalf("a fresh path has no history: got %+v, want empty", prev)
	}
	for _, id := range []string{"k1", "k2", "k3"} {
		_, err := tg.Write(ctx, sinks.Write{RotationID: "r-" + id, KeyID: id, Data: sinks.Secret{"key_id": id, "KEY": "v-" + id}})
		if err != nil {
			t.Fatalf("tg.Write: %v", err)
		}
	}
	prev, err = hr.Previous(ctx, 5)
	if err != nil {
		t.Fatalf("hr.Previous: %v", err)
	}
	if len(prev) != 2 {
		t.Fatalf("len(prev) = %d, want %d: %+v", len(prev), 2, prev)
	}
	if prev[0]["key_id"] != "k2" {
		t.Fatalf("newest first: got %q, want %q", prev[0]["key_id"], "k2")
	}
	if prev[1]["key_id"] != "k1" {
		t.Fatalf("prev[1][\"key_id\"] = %q, want %q", prev[1]["key_id"], "k1")
	}
	prev, err = hr.Previous(ctx, 1)
	if err != nil {
		t.Fatalf("hr.Previous: %v", err)
	}
	if len(prev) != 1 {
		t.Fatalf("len(prev) = %d, want %d: %+v", len(prev), 1, prev)
	}

	v1 := bind(t, newSink(t, f, f.authYAML("token")+", mount: kv1, kv_version: 1", sinks.Deps{}), uniquePath("history"))
	_, err = v1.Write(ctx, sinks.Write{RotationID: "r", KeyID: "k1", Data: sinks.Secret{"key_id": "k1", "KEY": "v"}})
	if err != nil {
		t.Fatalf("v1.Write: %v", err)
	}
	prev, err = v1.(sinks.HistoryReader).Previous(ctx, 3)
	if err != nil {
		t.Fatalf("v1.(sinks.HistoryReader).Previous: %v", err)
	}
	if len(prev) != 0 {
		t.Fatalf("KV v1 keeps no history: got %+v, want empty", prev)
	}
}
