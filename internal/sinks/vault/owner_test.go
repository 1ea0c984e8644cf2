package vault_test

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
)

// TestForeignKV2SecretIsNotTakenOver is the finding's case: another
// team's secret at version 5, no custom_metadata managed_by=rotator. The
// write is refused and the error says how to adopt; with adopt: true the
// secret is marked first, then written with cas 5, and the other team's
// own custom_metadata stays.
func TestForeignKV2SecretIsNotTakenOver(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	path := uniquePath("billing")
	kv := f.dev.root.KVv2("secret")
	for i := 1; i <= 5; i++ {
		_, err := kv.Put(ctx, path, map[string]any{"password": fmt.Sprintf("theirs-%d", i)})
		if err != nil {
			t.Fatalf("kv.Put: %v", err)
		}
	}
	if err := kv.PatchMetadata(ctx, path, api.KVMetadataPatchInput{CustomMetadata: map[string]any{"owner": "billing"}}); err != nil {
		t.Fatalf("kv.PatchMetadata: %v", err)
	}

	s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
	tg := bind(t, s, path)
	_, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_live_ours"}))
	if !errors.Is(err, sinks.ErrNotOwned) {
		t.Fatalf("tg.Write: got error %v, want one that is %v", err, sinks.ErrNotOwned)
	}
	if err == nil || err.Error() != "write vault secret/"+path+": the secret exists and carries no custom_metadata managed_by=rotator: "+
		"not written by rotator, so it is not overwritten; to let rotator take it over (and mark it as its own), set adopt: true on keys[0].sinks[0]" {
		t.Fatalf("got error %v, want %q", err, "write vault secret/"+path+": the secret exists and carries no custom_metadata managed_by=rotator: "+
			"not written by rotator, so it is not overwritten; to let rotator take it over (and mark it as its own), set adopt: true on keys[0].sinks[0]")
	}
	sinktest.AssertNoSecret(t, err.Error(), "theirs-5", "sk_live_ours")
	cur, err := kv.Get(ctx, path)
	if err != nil {
		t.Fatalf("kv.Get: %v", err)
	}
	if cur.VersionMetadata.Version != 5 {
		t.Fatalf("cur.VersionMetadata.Version = %v, want %v", cur.VersionMetadata.Version, 5)
	}
	if !reflect.DeepEqual("theirs-5", cur.Data["password"]) {
		t.Fatalf("cur.Data[\"password\"] = %+v, want %+v", cur.Data["password"], "theirs-5")
	}

	adopting, err := newSink(t, f, f.authYAML("token"), sinks.Deps{}).Bind(section(t, "keys[0].sinks[0]", "{sink: vault, path: "+path+", adopt: true}"))
	if err != nil {
		t.Fatalf("newSink(t, f, f.authYAML(\"token\"), sinks.Deps{}).Bind: %v", err)
	}
	v, err := adopting.Write(ctx, write("k1", sinks.Secret{"key": "sk_live_ours"}))
	if err != nil {
		t.Fatalf("adopting.Write: %v", err)
	}
	if v != "6" {
		t.Fatalf("v = %q, want %q", v, "6")
	}
	meta, err := kv.GetMetadata(ctx, path)
	if err != nil {
		t.Fatalf("kv.GetMetadata: %v", err)
	}
	if !reflect.DeepEqual("rotator", meta.CustomMetadata["managed_by"]) {
		t.Fatalf("meta.CustomMetadata[\"managed_by\"] = %+v, want %+v", meta.CustomMetadata["managed_by"], "rotator")
	}
	if !reflect.DeepEqual("billing", meta.CustomMetadata["owner"]) {
		t.Fatalf("meta.CustomMetadata[\"owner\"] = %+v, want %+v", meta.CustomMetadata["owner"], "billing")
	}

	// Rotator's own now: the target without adopt writes the next one.
	v, err = tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_live_next"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if v != "7" {
		t.Fatalf("v = %q, want %q", v, "7")
	}
}

// TestDeletedForeignSecretIsStillForeign: a soft-deleted version is still
// another team's secret (it can be undeleted).
func TestDeletedForeignSecretIsStillForeign(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	path := uniquePath("deleted")
	kv := f.dev.root.KVv2("secret")
	_, err := kv.Put(ctx, path, map[string]any{"password": "theirs"})
	if err != nil {
		t.Fatalf("kv.Put: %v", err)
	}
	if err := kv.Delete(ctx, path); err != nil {
		t.Fatalf("kv.Delete(ctx, path): %v", err)
	}
	tg := bind(t, newSink(t, f, f.authYAML("token"), sinks.Deps{}), path)
	_, err = tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_live_ours"}))
	if !errors.Is(err, sinks.ErrNotOwned) {
		t.Fatalf("tg.Write: got error %v, want one that is %v", err, sinks.ErrNotOwned)
	}
}

// TestForeignKV1SecretIsNotTakenOver: KV v1 keeps no metadata; the marker
// is the _managed_by field, which Read leaves out and a key's fields may
// not use.
func TestForeignKV1SecretIsNotTakenOver(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	path := uniquePath("v1-billing")
	_, err := f.dev.root.Logical().WriteWithContext(ctx, "kv1/"+path, map[string]any{"password": "theirs"})
	if err != nil {
		t.Fatalf("f.dev.root.Logical().WriteWithContext: %v", err)
	}
	s := newSink(t, f, "mount: kv1, kv_version: 1, "+f.authYAML("token"), sinks.Deps{})
	tg := bind(t, s, path)
	_, err = tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_live_ours"}))
	if !errors.Is(err, sinks.ErrNotOwned) {
		t.Fatalf("tg.Write: got error %v, want one that is %v", err, sinks.ErrNotOwned)
	}
	if err == nil || !strings.Contains(err.Error(), "carries no _managed_by=rotator field") {
		t.Fatalf("got error %v, want one containing %q", err, "carries no _managed_by=rotator field")
	}
	_, err = tg.Write(ctx, write("k1", sinks.Secret{"_managed_by": "me"}))
	if err == nil || !strings.Contains(err.Error(), `field "_managed_by" is rotator's ownership marker on KV version 1`) {
		t.Fatalf("tg.Write: got error %v, want one containing %q", err, `field "_managed_by" is rotator's ownership marker on KV version 1`)
	}
}
