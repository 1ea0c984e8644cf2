package config

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// withHooks is good with a hooks: section (top) and hooks on its first key.
func withHooks(t *testing.T, top, refs string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hmac"), []byte("k3y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(good, "keys:\n", "hooks:\n"+top+"keys:\n", 1)
	y = strings.Replace(y, "    grace: 48h\n", "    grace: 48h\n    hooks:\n"+refs, 1)
	return y, dir
}

const goodHooks = `  notify:
    type: webhook
    url: https://hooks.example.com/rotator
    secret_file: ./hmac
    timeout: 5s
  restart-app:
    type: exec
    command: /usr/local/bin/restart-app
    args: ["--graceful", "two words"]
  local: {type: webhook, url: "http://127.0.0.1:8080/hook", secret_file: hmac}
`

func TestHooks(t *testing.T) {
	y, dir := withHooks(t, goodHooks, `      - {hook: notify, on: [converged, revoked, failed, emergency]}
      - {hook: restart-app, on: [converged], block_revocation: true}
`)
	c, err := Load(strings.NewReader(y), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Hooks) != 3 {
		t.Fatalf("hooks = %+v", c.Hooks)
	}
	wh, ex := c.Hooks[0], c.Hooks[1]
	if wh.Name != "notify" || wh.Type != HookWebhook || wh.URL != "https://hooks.example.com/rotator" || wh.Timeout != 5*time.Second ||
		wh.HMACKey.Reveal() != "k3y\n" || wh.Path != "hooks.notify" {
		t.Errorf("webhook = %+v (the key is the file's bytes, newline included)", wh)
	}
	if ex.Type != HookExec || ex.Command != "/usr/local/bin/restart-app" || !slices.Equal(ex.Args, []string{"--graceful", "two words"}) ||
		ex.Timeout != DefaultHookTimeout {
		t.Errorf("exec = %+v", ex)
	}
	k := c.Keys[0]
	if len(k.Hooks) != 2 || !k.Hooks[0].Runs(EventRevoked) || k.Hooks[0].BlockRevocation || !k.Hooks[1].BlockRevocation ||
		k.Hooks[1].Path != "keys[0].hooks[1]" {
		t.Errorf("refs = %+v", k.Hooks)
	}
	if got := k.BlockingHooks(); !slices.Equal(got, []string{"restart-app"}) {
		t.Errorf("blocking = %v", got)
	}
	if len(c.Keys[1].Hooks) != 0 {
		t.Errorf("the second key has no hooks: %+v", c.Keys[1].Hooks)
	}
	if got := fmt.Sprintf("%v %#v %s", wh, wh, wh.HMACKey); strings.Contains(got, "k3y") {
		t.Errorf("a hook's HMAC key prints: %s", got)
	}
}

func TestHookErrors(t *testing.T) {
	ref := "      - {hook: notify, on: [converged]}\n"
	for _, tc := range []struct{ top, refs, want string }{
		{"  notify: {type: webhook, url: \"http://hooks.example.com/x\", secret_file: hmac}\n", ref,
			"hooks.notify.url (line 13): http:// to hooks.example.com, which is not a loopback address"},
		{"  notify: {type: webhook, url: \"https://u:pw@hooks.example.com/x\", secret_file: hmac}\n", ref,
			"hooks.notify.url (line 13): must not carry credentials"},
		{"  notify: {type: webhook, url: \"https://h/x\"}\n", ref, "hooks.notify.secret_file (line 13): is required"},
		{"  notify: {type: webhook, url: \"https://h/x\", secret_file: nope}\n", ref, "hooks.notify.secret_file (line 13): read secret file"},
		{"  notify: {type: webhook, url: \"https://h/x\", secret_file: hmac, command: /bin/true}\n", ref,
			"hooks.notify.command (line 13): is not a field of a webhook hook"},
		{"  notify: {type: exec, args: [x]}\n", ref, "hooks.notify.command (line 13): is required"},
		{"  notify: {type: exec, command: x, timeout: 2h}\n", ref, "hooks.notify.timeout (line 13): 2h0m0s: want between 1s and 1h0m0s"},
		{"  notify: {type: exec, command: x, shell: true}\n", ref, `hooks.notify.shell (line 13): unknown field "shell"`},
		{"  notify: {type: slack}\n", ref, `hooks.notify.type (line 13): unknown hook type "slack"`},
		{"  notify: {command: x}\n", ref, "hooks.notify.type (line 13): is required"},
		{"  notify: {type: exec, command: x}\n", "      - {hook: nope, on: [converged]}\n",
			`keys[0].hooks[0].hook (line 21): "nope" is not defined under hooks (defined: notify)`},
		{"  notify: {type: exec, command: x}\n", "      - {hook: notify}\n", "keys[0].hooks[0].on (line 21): is required"},
		{"  notify: {type: exec, command: x}\n", "      - {hook: notify, on: [converged, rotated]}\n",
			`keys[0].hooks[0].on[1] (line 21): "rotated" is not an event`},
		{"  notify: {type: exec, command: x}\n", "      - {hook: notify, on: [revoked, revoked]}\n", `"revoked" is listed twice`},
		{"  notify: {type: exec, command: x}\n", "      - {hook: notify, on: [revoked], block_revocation: true}\n",
			"keys[0].hooks[0].block_revocation (line 21): waits for the hook's success on converged, but its on: does not list converged"},
		{"  notify: {type: exec, command: x}\n", ref + "      - {hook: notify, on: [failed]}\n",
			`keys[0].hooks[1].hook (line 22): "notify" is already referenced by keys[0].hooks[0]`},
		{"  notify: {type: exec, command: x}\n", "      - {hook: notify, on: [converged], wait: true}\n",
			`keys[0].hooks[0].wait (line 21): unknown field "wait"`},
	} {
		y, dir := withHooks(t, tc.top, tc.refs)
		_, err := Load(strings.NewReader(y), dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q %q:\n err = %v\nwant %q", tc.top, tc.refs, err, tc.want)
		}
	}
}

func TestHookSecretFileWarnsWhenOthersReadIt(t *testing.T) {
	y, dir := withHooks(t, goodHooks, "      - {hook: notify, on: [converged]}\n")
	if err := os.Chmod(filepath.Join(dir, "hmac"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(strings.NewReader(y), dir)
	if err != nil {
		t.Fatal(err)
	}
	ws := c.Warnings.List()
	if len(ws) == 0 || ws[0].Path != "hooks.notify.secret_file" {
		t.Errorf("warnings = %v, want one about hooks.notify.secret_file", ws)
	}
}

func TestNoHooks(t *testing.T) {
	c, err := Load(strings.NewReader(good+"hooks:\n"), "/etc/rotator")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Hooks) != 0 || len(c.Keys[0].Hooks) != 0 {
		t.Errorf("hooks = %+v", c.Hooks)
	}
}
