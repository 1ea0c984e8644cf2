package vault_test

import (
	"testing"

	"github.com/stretchr/testify/require"

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
	require.True(t, ok, "the KV target must implement sinks.HistoryReader")
	prev, err := hr.Previous(ctx, 3)
	require.NoError(t, err)
	require.Empty(t, prev, "a fresh path has no history")
	for _, id := range []string{"k1", "k2", "k3"} {
		_, err := tg.Write(ctx, sinks.Write{RotationID: "r-" + id, KeyID: id, Data: sinks.Secret{"key_id": id, "KEY": "v-" + id}})
		require.NoError(t, err)
	}
	prev, err = hr.Previous(ctx, 5)
	require.NoError(t, err)
	require.Len(t, prev, 2)
	require.Equal(t, "k2", prev[0]["key_id"], "newest first")
	require.Equal(t, "k1", prev[1]["key_id"])
	prev, err = hr.Previous(ctx, 1)
	require.NoError(t, err)
	require.Len(t, prev, 1)

	v1 := bind(t, newSink(t, f, f.authYAML("token")+", mount: kv1, kv_version: 1", sinks.Deps{}), uniquePath("history"))
	_, err = v1.Write(ctx, sinks.Write{RotationID: "r", KeyID: "k1", Data: sinks.Secret{"key_id": "k1", "KEY": "v"}})
	require.NoError(t, err)
	prev, err = v1.(sinks.HistoryReader).Previous(ctx, 3)
	require.NoError(t, err)
	require.Empty(t, prev, "KV v1 keeps no history")
}
