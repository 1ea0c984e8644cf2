package file_test

import (
	"strconv"
	"testing"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/file"
)

func benchTarget(b *testing.B, path string) sinks.Target {
	dir := b.TempDir()
	s, err := file.New(file.Config{Dir: dir, Mode: file.DefaultMode}, sinks.Deps{Logger: zap.NewNop(), Clock: clockwork.NewRealClock()})
	if err != nil {
		b.Fatal(err)
	}
	tg, err := s.Bind(section(b, "keys[0].sinks[0]", "", "{sink: local, path: "+path+"}"))
	if err != nil {
		b.Fatal(err)
	}
	return tg
}

// BenchmarkWrite is one rotation's write: a new value, atomically, with
// both fsyncs.
func BenchmarkWrite(b *testing.B) {
	for _, path := range []string{"k.json", "k.env"} {
		b.Run(path, func(b *testing.B) {
			tg := benchTarget(b, path)
			for i := 0; b.Loop(); i++ {
				w := sinks.Write{RotationID: strconv.Itoa(i), Data: sinks.Secret{"API_KEY": "em_" + strconv.Itoa(i), "KEY_ID": strconv.Itoa(i)}}
				if _, err := tg.Write(b.Context(), w); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRewriteUnchanged is a retried write: compared, not written.
func BenchmarkRewriteUnchanged(b *testing.B) {
	tg := benchTarget(b, "k.json")
	w := sinks.Write{RotationID: "r", Data: sinks.Secret{"API_KEY": "em_1", "KEY_ID": "1"}}
	for b.Loop() {
		if _, err := tg.Write(b.Context(), w); err != nil {
			b.Fatal(err)
		}
	}
}
