package vault_test

import (
	"fmt"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

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
		require.NoError(t, err)
	}
	require.NoError(t, kv.PatchMetadata(ctx, path, api.KVMetadataPatchInput{CustomMetadata: map[string]any{"owner": "billing"}}))

	s := newSink(t, f, f.authYAML("token"), sinks.Deps{})
	tg := bind(t, s, path)
	_, err := tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_live_ours"}))
	require.ErrorIs(t, err, sinks.ErrNotOwned)
	require.EqualError(t, err, "write vault secret/"+path+": the secret exists and carries no custom_metadata managed_by=rotator: "+
		"not written by rotator, so it is not overwritten; to let rotator take it over (and mark it as its own), set adopt: true on keys[0].sinks[0]")
	sinktest.AssertNoSecret(t, err.Error(), "theirs-5", "sk_live_ours")
	cur, err := kv.Get(ctx, path)
	require.NoError(t, err)
	require.Equal(t, 5, cur.VersionMetadata.Version)
	require.Equal(t, "theirs-5", cur.Data["password"])

	adopting, err := newSink(t, f, f.authYAML("token"), sinks.Deps{}).Bind(section(t, "keys[0].sinks[0]", "{sink: vault, path: "+path+", adopt: true}"))
	require.NoError(t, err)
	v, err := adopting.Write(ctx, write("k1", sinks.Secret{"key": "sk_live_ours"}))
	require.NoError(t, err)
	require.Equal(t, "6", v)
	meta, err := kv.GetMetadata(ctx, path)
	require.NoError(t, err)
	require.Equal(t, "rotator", meta.CustomMetadata["managed_by"])
	require.Equal(t, "billing", meta.CustomMetadata["owner"])

	// Rotator's own now: the target without adopt writes the next one.
	v, err = tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_live_next"}))
	require.NoError(t, err)
	require.Equal(t, "7", v)
}

// TestDeletedForeignSecretIsStillForeign: a soft-deleted version is still
// another team's secret (it can be undeleted).
func TestDeletedForeignSecretIsStillForeign(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	path := uniquePath("deleted")
	kv := f.dev.root.KVv2("secret")
	_, err := kv.Put(ctx, path, map[string]any{"password": "theirs"})
	require.NoError(t, err)
	require.NoError(t, kv.Delete(ctx, path))
	tg := bind(t, newSink(t, f, f.authYAML("token"), sinks.Deps{}), path)
	_, err = tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_live_ours"}))
	require.ErrorIs(t, err, sinks.ErrNotOwned)
}

// TestForeignKV1SecretIsNotTakenOver: KV v1 keeps no metadata; the marker
// is the _managed_by field, which Read leaves out and a key's fields may
// not use.
func TestForeignKV1SecretIsNotTakenOver(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	path := uniquePath("v1-billing")
	_, err := f.dev.root.Logical().WriteWithContext(ctx, "kv1/"+path, map[string]any{"password": "theirs"})
	require.NoError(t, err)
	s := newSink(t, f, "mount: kv1, kv_version: 1, "+f.authYAML("token"), sinks.Deps{})
	tg := bind(t, s, path)
	_, err = tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_live_ours"}))
	require.ErrorIs(t, err, sinks.ErrNotOwned)
	require.ErrorContains(t, err, "carries no _managed_by=rotator field")
	_, err = tg.Write(ctx, write("k1", sinks.Secret{"_managed_by": "me"}))
	require.ErrorContains(t, err, `field "_managed_by" is rotator's ownership marker on KV version 1`)
}
