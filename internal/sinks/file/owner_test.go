package file_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
)

// TestForeignFileIsNotTakenOver: a file already in place that rotator did
// not write (no marker) is left alone and the error says how to adopt
// it; with adopt: true it is replaced and marked, and from then on the
// target writes it without adopt.
func TestForeignFileIsNotTakenOver(t *testing.T) {
	for path, want := range map[string]string{
		"k.env":  `carries no marker line "# managed-by=rotator"`,
		"k.json": `carries no marker field "_managed_by": "rotator"`,
	} {
		t.Run(path, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out")
			require.NoError(t, os.MkdirAll(out, 0o700))
			theirs := "DB_PASSWORD=hunter2-theirs\n"
			require.NoError(t, os.WriteFile(filepath.Join(out, path), []byte(theirs), 0o600))
			s := newSink(t, dir, "", sinks.Deps{})
			tg := bind(t, s, "{sink: local, path: "+path+"}")
			w := sinks.Write{RotationID: "r1", Data: sinks.Secret{"KEY": "sk_live_new"}}

			_, err := tg.Write(t.Context(), w)
			require.ErrorIs(t, err, sinks.ErrNotOwned)
			require.EqualError(t, err, "write "+filepath.Join(out, path)+": the file exists and "+want+
				": not written by rotator, so it is not overwritten; to let rotator take it over (and mark it as its own), set adopt: true on keys[0].sinks[0]")
			sinktest.AssertNoSecret(t, err.Error(), "hunter2-theirs", "sk_live_new")
			b, err := os.ReadFile(filepath.Join(out, path))
			require.NoError(t, err)
			require.Equal(t, theirs, string(b))

			adopting := bind(t, newSink(t, dir, "", sinks.Deps{}), "{sink: local, path: "+path+", adopt: true}")
			_, err = adopting.Write(t.Context(), w)
			require.NoError(t, err)
			got, err := tg.Read(t.Context())
			require.NoError(t, err)
			require.Equal(t, w.Data, got, "the marker is not part of what Read returns")
			w.Data["KEY"] = "sk_live_next"
			_, err = tg.Write(t.Context(), w)
			require.NoError(t, err, "the adopted file is rotator's now")
		})
	}
}

// TestMarkerFieldIsReserved: a key's own field may not be the JSON marker.
func TestMarkerFieldIsReserved(t *testing.T) {
	dir := t.TempDir()
	tg := bind(t, newSink(t, dir, "", sinks.Deps{}), "{sink: local, path: k.json}")
	_, err := tg.Write(t.Context(), sinks.Write{RotationID: "r1", Data: sinks.Secret{"_managed_by": "me"}})
	require.ErrorContains(t, err, `field "_managed_by" is rotator's ownership marker in a json file: rename the field with the target's fields`)
	// In an env file the marker is a comment: the name is free.
	env := bind(t, newSink(t, dir, "", sinks.Deps{}), "{sink: local, path: k.env}")
	_, err = env.Write(t.Context(), sinks.Write{RotationID: "r1", Data: sinks.Secret{"_managed_by": "me"}})
	require.NoError(t, err)
	got, err := env.Read(t.Context())
	require.NoError(t, err)
	require.Equal(t, sinks.Secret{"_managed_by": "me"}, got)
}
