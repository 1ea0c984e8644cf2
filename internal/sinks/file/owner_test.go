package file_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

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
			if err := os.MkdirAll(out, 0o700); err != nil {
				t.Fatalf("os.MkdirAll(out, 0o700): %v", err)
			}
			theirs := "DB_PASSWORD=hunter2-theirs\n"
			if err := os.WriteFile(filepath.Join(out, path), []byte(theirs), 0o600); err != nil {
				t.Fatalf("os.WriteFile(filepath.Join(out, path), []byte(theirs), 0o600): %v", err)
			}
			s := newSink(t, dir, "", sinks.Deps{})
			tg := bind(t, s, "{sink: local, path: "+path+"}")
			w := sinks.Write{RotationID: "r1", Data: sinks.Secret{"KEY": "sk_live_new"}}

			_, err := tg.Write(t.Context(), w)
			if !errors.Is(err, sinks.ErrNotOwned) {
				t.Fatalf("tg.Write: got error %v, want one that is %v", err, sinks.ErrNotOwned)
			}
			if want2 := "write " + filepath.Join(out, path) + ": the file exists and " + want +
				": not written by rotator, so it is not overwritten; to let rotator take it over (and mark it as its own), set adopt: true on keys[0].sinks[0]"; err == nil || err.Error() != want2 {
				t.Fatalf("got error %v, want %q", err, want2)
			}
			sinktest.AssertNoSecret(t, err.Error(), "hunter2-theirs", "sk_live_new")
			b, err := os.ReadFile(filepath.Join(out, path))
			if err != nil {
				t.Fatalf("os.ReadFile: %v", err)
			}
			if string(b) != theirs {
				t.Fatalf("string(b) = %q, want %q", string(b), theirs)
			}

			adopting := bind(t, newSink(t, dir, "", sinks.Deps{}), "{sink: local, path: "+path+", adopt: true}")
			_, err = adopting.Write(t.Context(), w)
			if err != nil {
				t.Fatalf("adopting.Write: %v", err)
			}
			got, err := tg.Read(t.Context())
			if err != nil {
				t.Fatalf("tg.Read: %v", err)
			}
			if !reflect.DeepEqual(w.Data, got) {
				t.Fatalf("the marker is not part of what Read returns: got %+v, want %+v", got, w.Data)
			}
			w.Data["KEY"] = "sk_live_next"
			_, err = tg.Write(t.Context(), w)
			if err != nil {
				t.Fatalf("the adopted file is rotator's now: %v", err)
			}
		})
	}
}

// TestMarkerFieldIsReserved: a key's own field may not be the JSON marker.
func TestMarkerFieldIsReserved(t *testing.T) {
	dir := t.TempDir()
	tg := bind(t, newSink(t, dir, "", sinks.Deps{}), "{sink: local, path: k.json}")
	_, err := tg.Write(t.Context(), sinks.Write{RotationID: "r1", Data: sinks.Secret{"_managed_by": "me"}})
	if err == nil || !strings.Contains(err.Error(), `field "_managed_by" is rotator's ownership marker in a json file: rename the field with the target's fields`) {
		t.Fatalf("tg.Write: got error %v, want one containing %q", err, `field "_managed_by" is rotator's ownership marker in a json file: rename the field with the target's fields`)
	}
	// In an env file the marker is a comment: the name is free.
	env := bind(t, newSink(t, dir, "", sinks.Deps{}), "{sink: local, path: k.env}")
	_, err = env.Write(t.Context(), sinks.Write{RotationID: "r1", Data: sinks.Secret{"_managed_by": "me"}})
	if err != nil {
		t.Fatalf("env.Write: %v", err)
	}
	got, err := env.Read(t.Context())
	if err != nil {
		t.Fatalf("env.Read: %v", err)
	}
	if want := (sinks.Secret{"_managed_by": "me"}); !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}
}
