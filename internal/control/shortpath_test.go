package control

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A state file deep in a long folder still gets its control socket:
// sun_path holds only 107 bytes.
func TestSocketInALongFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := SocketPath(filepath.Join(dir, "state.db"))
	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatalf("listen at a %d-byte path: %v", len(path), err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}()
	a, done, err := addr(path)
	if err != nil {
		t.Fatal(err)
	}
	defer done()
	c, err := net.Dial("unix", a)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket %v, %v: want mode 0600", fi, err)
	}
}
