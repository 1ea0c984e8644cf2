package vault_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/rotator-dev/rotator/internal/sinks"
)

// TestKV2DeleteVersionAfter: on a secret with delete_version_after, every
// version carries a deletion_time in the future; until then Vault serves
// it, and so does the sink: it reads it, writes over it and keeps it in
// the history.
func TestKV2DeleteVersionAfter(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	path := uniquePath("delete-after")
	tg := bind(t, newSink(t, f, f.authYAML("token"), sinks.Deps{}), path)
	if _, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_k1"})); err != nil {
		t.Fatalf("tg.Write(k1): %v", err)
	}
	after := time.Hour
	if err := f.dev.root.KVv2("secret").PatchMetadata(ctx, path, api.KVMetadataPatchInput{DeleteVersionAfter: &after}); err != nil {
		t.Fatalf("PatchMetadata(delete_version_after=1h): %v", err)
	}
	for _, id := range []string{"k2", "k3"} {
		if _, err := tg.Write(ctx, write(id, sinks.Secret{"key": "sk_" + id})); err != nil {
			t.Fatalf("tg.Write(%s) on a secret whose versions expire in an hour: %v", id, err)
		}
	}
	got, err := tg.Read(ctx)
	if err != nil {
		t.Fatalf("tg.Read: %v", err)
	}
	if want := (sinks.Secret{"key": "sk_k3"}); !reflect.DeepEqual(got, want) {
		t.Fatalf("Read = %+v, want %+v: a version is live until its deletion_time", got, want)
	}
	prev, err := tg.(sinks.HistoryReader).Previous(ctx, 5)
	if err != nil {
		t.Fatalf("Previous: %v", err)
	}
	if want := []sinks.Secret{{"key": "sk_k2"}, {"key": "sk_k1"}}; !reflect.DeepEqual(prev, want) {
		t.Fatalf("Previous = %+v, want %+v", prev, want)
	}
}
