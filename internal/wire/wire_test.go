package wire

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/config"
)

// policy is a valid policy with one smtpd and one Emailit key written to
// one file sink; each test edits it.
const policy = `providers:
  smtpd: {type: smtpd, base_url: "https://api.smtpd.dev", username: u, password: p}
  emailit: {type: emailit, api_key: k}
sinks:
  out: {type: file, dir: /out}
keys:
  - name: send
    provider: smtpd
    params: {role: send_only}
    sinks:
      - {sink: out, path: send.env, format: env, fields: {key: SMTPD_KEY, secret: SMTPD_SECRET}}
  - name: mail
    provider: emailit
    params: {scope: sending}
    sinks: [{sink: out, path: mail.json, fields: {api_key: EMAILIT_API_KEY}}]
`

func build(t *testing.T, yml string) (*Built, error) {
	t.Helper()
	cfg, err := config.Load(strings.NewReader(yml), t.TempDir())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return Build(cfg, Deps{Logger: zap.NewNop(), Clock: clockwork.NewFakeClock(), UserAgent: "test"})
}

func TestBuildWiresAValidPolicy(t *testing.T) {
	b, err := build(t, policy)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Providers) != 2 || len(b.Sinks) != 1 || len(b.Keys) != 2 {
		t.Fatalf("built %d providers, %d sinks, %d keys; want 2, 1, 2", len(b.Providers), len(b.Sinks), len(b.Keys))
	}
	if got := b.Keys[0].Targets[0].Fields["key"]; got != "SMTPD_KEY" {
		t.Errorf("renames not bound: key → %q", got)
	}
}

// TestBuildAcceptsRenames: a rename onto another produced field's name is
// fine when that field is renamed away too (a swap), and renaming a field
// to its own name changes nothing.
func TestBuildAcceptsRenames(t *testing.T) {
	for name, fields := range map[string]string{
		"swap":          "{key: key_id, key_id: key}",
		"chain":         "{key: key_id, key_id: id}",
		"same name":     "{key: key}",
		"all renamed":   "{key: K, secret: S, key_id: I, key_name: N, created_at: C}",
		"to a new name": "{created_at: issued_at}",
	} {
		t.Run(name, func(t *testing.T) {
			yml := strings.Replace(policy, "{key: SMTPD_KEY, secret: SMTPD_SECRET}", fields, 1)
			if _, err := build(t, yml); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestBuildRejects pins the error of each check wire makes.
func TestBuildRejects(t *testing.T) {
	tests := map[string]struct {
		edits []string // old, new, old, new, ...
		want  string
	}{
		"two keys share a target": {[]string{"path: mail.json", "path: send.env"},
			`keys[1].sinks[0].path (line 15): /out/send.env is already written by keys[0].sinks[0]`},
		// Two sinks over one folder: each file sink sees one target, wire
		// sees both.
		"two sinks share a target": {[]string{"  out: {type: file, dir: /out}\n", "  out: {type: file, dir: /out}\n  again: {type: file, dir: /out/}\n",
			"{sink: out, path: mail.json", "{sink: again, path: send.env"},
			`keys[1].sinks[0] (line 16): file /out/send.env is already written by keys[0].sinks[0]: two keys cannot share a target`},
		"rename of an unknown field": {[]string{"{api_key: EMAILIT_API_KEY}", "{apikey: EMAILIT_API_KEY}"},
			`keys[1].sinks[0].fields (line 15): "apikey" is not a field of a emailit key (fields: api_key, created_at, key_id, key_name)`},
		"rename of another provider's field": {[]string{"{api_key: EMAILIT_API_KEY}", "{secret: EMAILIT_API_KEY}"},
			`keys[1].sinks[0].fields (line 15): "secret" is not a field of a emailit key (fields: api_key, created_at, key_id, key_name)`},
		"rename onto key_id": {[]string{"{key: SMTPD_KEY, secret: SMTPD_SECRET}", "{key: key_id}"},
			`keys[0].sinks[0].fields (line 11): key is renamed to key_id, which is the name of another field of a smtpd key: rename key_id too (such as key_id: key_id_2), or choose another name`},
		"rename onto a credential field": {[]string{"{key: SMTPD_KEY, secret: SMTPD_SECRET}", "{key_name: secret}"},
			`keys[0].sinks[0].fields (line 11): key_name is renamed to secret, which is the name of another field of a smtpd key: rename secret too (such as secret: secret_2), or choose another name`},
		"emailit key_id onto api_key": {[]string{"{api_key: EMAILIT_API_KEY}", "{key_id: api_key}"},
			`keys[1].sinks[0].fields (line 15): key_id is renamed to api_key, which is the name of another field of a emailit key: rename api_key too (such as api_key: api_key_2), or choose another name`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			yml := policy
			for i := 0; i < len(tc.edits); i += 2 {
				if !strings.Contains(yml, tc.edits[i]) {
					t.Fatalf("%q is not in the policy", tc.edits[i])
				}
				yml = strings.Replace(yml, tc.edits[i], tc.edits[i+1], 1)
			}
			_, err := build(t, yml)
			if err == nil {
				t.Fatalf("no error; want %s", tc.want)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
}

// TestBuildLogsWarnings: a secret file readable by other users is a
// warning, logged and returned, not an error.
func TestBuildLogsWarnings(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("p\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(pw, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(strings.NewReader(strings.Replace(policy, "password: p}", "password_file: pw}", 1)), dir)
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.WarnLevel)
	b, err := Build(cfg, Deps{Logger: zap.New(core), Clock: clockwork.NewFakeClock()})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Warnings) != 1 || b.Warnings[0].Path != "providers.smtpd.password_file" || b.Warnings[0].Line != 2 {
		t.Fatalf("warnings = %+v", b.Warnings)
	}
	entries := logs.FilterMessage("configuration warning").All()
	if len(entries) != 1 || entries[0].ContextMap()["path"] != "providers.smtpd.password_file" ||
		!strings.Contains(entries[0].ContextMap()["warning"].(string), "readable by other users (mode 0644)") {
		t.Fatalf("logged: %+v", logs.All())
	}
}
