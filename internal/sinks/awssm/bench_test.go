package awssm_test

import (
	"fmt"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awstest"
)

// BenchmarkRotate measures one rotation's sink work (Write, ReadPending,
// Promote) against the in-process server, SigV4 verification included.
func BenchmarkRotate(b *testing.B) {
	srv := awstest.New(awstest.Config{})
	defer srv.Close()
	tg := bind(b, newSink(b, srv, sinks.Deps{}), "{sink: aws, secret_id: bench, create: true}")
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("%08d-0000-4000-8000-000000000000", i)
		w := write(id, sinks.Secret{"api_key": id})
		if _, err := tg.Write(b.Context(), w); err != nil {
			b.Fatal(err)
		}
		if _, err := tg.ReadPending(b.Context(), id); err != nil {
			b.Fatal(err)
		}
		if err := tg.Promote(b.Context(), w); err != nil {
			b.Fatal(err)
		}
	}
}
