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
