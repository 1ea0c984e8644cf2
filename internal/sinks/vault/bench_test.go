package vault_test

import (
	"strconv"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks"
)

// BenchmarkWriteKV2 is one rotation's write to the real Vault (loopback):
// read the current version, check-and-set write, custom_metadata patch,
// read back the written version.
func BenchmarkWriteKV2(b *testing.B) {
	f := setup(b)
	s := newSink(b, f, f.authYAML("token"), sinks.Deps{})
	tg := bind(b, s, uniquePath("bench"))
	for i := 0; b.Loop(); i++ {
		if _, err := tg.Write(b.Context(), write(strconv.Itoa(i), sinks.Secret{"key": "sk_" + strconv.Itoa(i)})); err != nil {
			b.Fatal(err)
		}
	}
}
