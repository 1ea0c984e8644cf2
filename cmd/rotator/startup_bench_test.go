package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkCheckConfig10kKeys runs `rotator --check-config` on a policy of
// 10,000 keys: loading, validating and wiring, most of the daemon's
// start-up. Run it with -benchtime=1x for a cold process, as at start-up.
func BenchmarkCheckConfig10kKeys(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("password\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	var cfg strings.Builder
	cfg.WriteString(`providers:
  p: {type: smtpd, base_url: "http://127.0.0.1:9", username: u, password_file: ./pw}
sinks:
  out: {type: file, dir: ./out}
keys:
`)
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&cfg, "  - {name: k%05d, provider: p, params: {role: send_only}, sinks: [{sink: out, path: k%05d.env, format: env}]}\n", i, i)
	}
	path := filepath.Join(dir, "rotator.yaml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c := newCLI(io.Discard, io.Discard)
		if code := c.run([]string{"--config", path, "--check-config"}); code != exitOK {
			b.Fatalf("exit %d", code)
		}
	}
}
