package config

import (
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkLoad10kKeys parses and validates a policy of 10,000 keys, each
// with one file target: the daemon's start-up pays this once.
func BenchmarkLoad10kKeys(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("providers:\n  p: {type: smtpd, base_url: \"http://127.0.0.1:1\", username: u, password: x}\n")
	buf.WriteString("sinks:\n  out: {type: file, dir: ./out}\nkeys:\n")
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&buf, "  - {name: k%05d, provider: p, params: {role: send_only}, sinks: [{sink: out, path: k%05d.env, format: env}]}\n", i, i)
	}
	src := buf.Bytes()
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := Load(bytes.NewReader(src), b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		if len(cfg.Keys) != 10000 {
			b.Fatalf("got %d keys", len(cfg.Keys))
		}
	}
}
