package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSecretFileIsBoundedAndRegular: /dev/zero ran the process out of
// memory, a FIFO blocked --check-config for ever; both are refused, as are
// a folder and an oversized file, each with the field's path.
func TestSecretFileIsBoundedAndRegular(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "big"), make([]byte, MaxSecretFile+1), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "max"), []byte(strings.Repeat("k", MaxSecretFile)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	sec := Section{Path: "providers.p", BaseDir: dir}
	for file, want := range map[string]string{
		"/dev/zero": "providers.p.password_file: read secret file: /dev/zero is a device: a secret file must be a regular file",
		"link":      "providers.p.password_file: read secret file: " + filepath.Join(dir, "link") + " is a device: a secret file must be a regular file",
		"fifo":      "providers.p.password_file: read secret file: " + filepath.Join(dir, "fifo") + " is a FIFO: a secret file must be a regular file",
		".":         "providers.p.password_file: read secret file: " + dir + " is a folder: a secret file must be a regular file",
		"big":       "providers.p.password_file: read secret file: " + filepath.Join(dir, "big") + " is larger than 64 KiB: a secret file holds one password, token or key",
	} {
		t.Run(file, func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := sec.Secret("password", "", file, true)
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || err.Error() != want {
					t.Errorf("err = %v, want %s", err, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("reading the secret file blocked")
			}
		})
	}
	if v, err := sec.Secret("password", "", "max", true); err != nil || len(v) != MaxSecretFile {
		t.Errorf("a file of exactly %d bytes: %d bytes, %v", MaxSecretFile, len(v), err)
	}
}

// TestSecretFileReadableByOthersWarns: a secret file that group or others
// may read loads, with a warning naming the field, the file and its mode.
func TestSecretFileReadableByOthersWarns(t *testing.T) {
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"private": 0o600, "group": 0o640, "world": 0o604} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("pw\n"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil { // umask
			t.Fatal(err)
		}
	}
	ws := &Warnings{}
	sec := Section{Path: "providers.p", BaseDir: dir, Warnings: ws}
	for _, f := range []string{"private", "group", "world"} {
		if v, err := sec.Secret("password", "", f, true); err != nil || v.Reveal() != "pw" {
			t.Fatalf("%s: %q, %v", f, v.Reveal(), err)
		}
	}
	var got []string
	for _, w := range ws.List() {
		got = append(got, w.String())
	}
	want := []string{
		"providers.p.password_file: secret file " + filepath.Join(dir, "group") + " is readable by other users (mode 0640): chmod 600 it, or 640 for a group only rotator's user is in",
		"providers.p.password_file: secret file " + filepath.Join(dir, "world") + " is readable by other users (mode 0604): chmod 600 it, or 640 for a group only rotator's user is in",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestLoadSharesWarnings: every backend section of a loaded policy
// reports to the policy's Warnings.
func TestLoadSharesWarnings(t *testing.T) {
	c, err := Load(strings.NewReader(good), "/etc/rotator")
	if err != nil {
		t.Fatal(err)
	}
	if c.Warnings == nil || c.Providers[0].Warnings != c.Warnings || c.Sinks[0].Warnings != c.Warnings ||
		c.Keys[0].Targets[0].Section.Warnings != c.Warnings {
		t.Fatal("a section does not report to the policy's warnings")
	}
}

func TestCheckURL(t *testing.T) {
	for raw, ok := range map[string]bool{
		"https://api.smtpd.dev":    true,
		"http://127.0.0.1:8080":    true,
		"http://127.9.9.9":         true,
		"http://[::1]:8200":        true,
		"http://localhost:8200/x":  true,
		"http://LOCALHOST.":        true,
		"http://vault.localhost":   true,
		"http://10.0.0.5:8200":     false,
		"http://vault.example.com": false,
		"HTTP://vault.example.com": false,
		"http://[::2]:8200":        false,
		"http://127.0.0.1.nip.io":  false,
	} {
		err := CheckURL(raw, false)
		if (err == nil) != ok {
			t.Errorf("CheckURL(%q) = %v, want ok %v", raw, err, ok)
		}
		if err := CheckURL(raw, true); err != nil {
			t.Errorf("CheckURL(%q, allowed) = %v", raw, err)
		}
	}
	want := `"http://vault.example.com:8200" would send credentials in cleartext to vault.example.com, which is not a loopback address: use https, or set allow_insecure_http: true in this section`
	if err := CheckURL("http://vault.example.com:8200", false); err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}
