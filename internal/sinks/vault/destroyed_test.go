package vault_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks"
)

// TestKV2DestroyedVersions: a destroyed latest version reads as not found,
// and the next write checks-and-sets against its number (Vault refuses any
// other cas); Previous skips deleted and destroyed versions.
func TestKV2DestroyedVersions(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	path := uniquePath("destroyed")
	tg := bind(t, newSink(t, f, f.authYAML("token"), sinks.Deps{}), path)
	for _, id := range []string{"k1", "k2", "k3", "k4"} {
		if _, err := tg.Write(ctx, write(id, sinks.Secret{"key": "sk_" + id})); err != nil {
			t.Fatalf("tg.Write(%s): %v", id, err)
		}
	}
	kv := f.dev.root.KVv2("secret")
	if err := kv.DeleteVersions(ctx, path, []int{3}); err != nil {
		t.Fatalf("kv.DeleteVersions: %v", err)
	}
	if err := kv.Destroy(ctx, path, []int{2, 4}); err != nil {
		t.Fatalf("kv.Destroy: %v", err)
	}

	if _, err := tg.Read(ctx); !errors.Is(err, sinks.ErrNotFound) {
		t.Fatalf("tg.Read: got error %v, want one that is %v", err, sinks.ErrNotFound)
	}
	hr := tg.(sinks.HistoryReader)
	prev, err := hr.Previous(ctx, 5)
	if err != nil {
		t.Fatalf("hr.Previous: %v", err)
	}
	if want := []sinks.Secret{{"key": "sk_k1"}}; !reflect.DeepEqual(prev, want) {
		t.Fatalf("Previous skips deleted v3 and destroyed v2: got %+v, want %+v", prev, want)
	}

	v, err := tg.Write(ctx, write("k5", sinks.Secret{"key": "sk_k5"}))
	if err != nil {
		t.Fatalf("tg.Write(k5): %v", err)
	}
	if v != "5" {
		t.Fatalf("v = %q, want %q", v, "5")
	}
	got, err := tg.Read(ctx)
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if want := (sinks.Secret{"key": "sk_k5"}); !reflect.DeepEqual(got, want) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}
	if prev, err = hr.Previous(ctx, 5); err != nil {
		t.Fatalf("hr.Previous: %v", err)
	}
	if want := []sinks.Secret{{"key": "sk_k1"}}; !reflect.DeepEqual(prev, want) {
		t.Fatalf("Previous skips destroyed v4: got %+v, want %+v", prev, want)
	}
}
