package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestControlTokenFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(strings.NewReader("control: {token_file: ./token}\n"+good), dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.ControlToken.Reveal() != "s3cret-token" {
		t.Errorf("control token %q", c.ControlToken.Reveal())
	}
	c, err = Load(strings.NewReader(good), dir)
	if err != nil || c.ControlToken != "" {
		t.Errorf("no control section: token %q, err %v", c.ControlToken.Reveal(), err)
	}
	_, err = Load(strings.NewReader("control: {token_file: ./missing}\n"+good), dir)
	if err == nil || !strings.Contains(err.Error(), "control.token_file") {
		t.Errorf("missing token file: %v, want an error naming control.token_file", err)
	}
}

// control.socket: a replica's socket (backend postgres), resolved against
// the config folder; with bbolt it is refused, naming the field.
func TestControlSocket(t *testing.T) {
	dir := t.TempDir()
	pg := goodWith(`{backend: postgres, dsn: "postgres://rotator@db.example/rotator"}`)
	c, err := Load(strings.NewReader("control: {socket: ./run/rotator.sock}\n"+pg), dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "run", "rotator.sock"); c.ControlSocket != want {
		t.Errorf("control socket %q, want %q", c.ControlSocket, want)
	}
	if c, err := Load(strings.NewReader(pg), dir); err != nil || c.ControlSocket != "" {
		t.Errorf("no control.socket: %q, %v", c.ControlSocket, err)
	}
	_, err = Load(strings.NewReader("control: {socket: ./rotator.sock}\n"+good), dir)
	if err == nil || !strings.Contains(err.Error(), "control.socket") || !strings.Contains(err.Error(), "beside the state file") {
		t.Errorf("control.socket with bbolt: %v, want an error naming control.socket", err)
	}
}
