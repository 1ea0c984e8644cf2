package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
)

// env is a policy for both providers' test servers and a file sink.
type env struct {
	dir, config string
	smtpd       *smtpdtest.Server
	emailit     *emailittest.Server
}

func newEnv(t *testing.T, grace string) *env {
	t.Helper()
	e := &env{dir: t.TempDir()}
	e.smtpd = smtpdtest.New(smtpdtest.Config{})
	e.emailit = emailittest.New(emailittest.Config{RateLimit: -1})
	t.Cleanup(e.smtpd.Close)
	t.Cleanup(e.emailit.Close)
	must(t, os.WriteFile(filepath.Join(e.dir, "pw"), []byte(e.smtpd.Password()+"\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(e.dir, "ek"), []byte(e.emailit.ManagementKey()+"\n"), 0o600))
	must(t, os.Mkdir(filepath.Join(e.dir, "out"), 0o700))
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
state: {path: ./state.db}
defaults: {grace: %s, schedule: "@every 24h"}
providers:
  smtpd: {type: smtpd, base_url: %q, username: %q, password_file: ./pw, rate_limit: 100}
  emailit: {type: emailit, base_url: %q, api_key_file: ./ek, rate_limit: 100}
sinks:
  out: {type: file, dir: ./out}
keys:
  - name: mail
    provider: smtpd
    params: {role: send_only}
    sinks: [{sink: out, path: mail.env}]
  - name: news
    provider: emailit
    params: {scope: sending}
    sinks: [{sink: out, path: news.json, fields: {api_key: EMAILIT_API_KEY}}]
`, grace, e.smtpd.URL(), e.smtpd.Username(), e.emailit.URL())
	e.config = filepath.Join(e.dir, "rotator.yaml")
	must(t, os.WriteFile(e.config, []byte(cfg), 0o600))
	return e
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := newCLI(&out, &errb)
	c.ctx = context.Background()
	code = c.run(append(args, "--log-format", "json"))
	return code, out.String(), errb.String()
}

// secrets returns every credential the test servers issued.
func (e *env) secrets() []string {
	return append(e.smtpd.IssuedSecrets(), e.emailit.IssuedSecrets()...)
}

func (e *env) assertNoSecret(t *testing.T, where, text string) {
	t.Helper()
	all := append(e.secrets(), e.smtpd.Password(), e.emailit.ManagementKey())
	for _, s := range all {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("a credential appears in %s", where)
		}
	}
}

func TestRunNowRotatesBothProvidersAndRevokesWithGraceZero(t *testing.T) {
	e := newEnv(t, "0s")
	code, out, errs := runCLI(t, "--config", e.config, "--run-now")
	if code != exitOK {
		t.Fatalf("first run: exit %d\nstdout: %s\nstderr: %s", code, out, errs)
	}
	for _, want := range []string{"mail", "news", "rotated (forced)"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	env1, err := os.ReadFile(filepath.Join(e.dir, "out", "mail.env"))
	must(t, err)
	json1, err := os.ReadFile(filepath.Join(e.dir, "out", "news.json"))
	must(t, err)
	if !strings.Contains(string(json1), "EMAILIT_API_KEY") {
		t.Errorf("news.json lacks the renamed field: %s", json1)
	}

	code, out, errs2 := runCLI(t, "--config", e.config, "--run-now")
	if code != exitOK || !strings.Contains(out, "revoked 1") {
		t.Fatalf("second run: exit %d\n%s\n%s", code, out, errs2)
	}
	env2, _ := os.ReadFile(filepath.Join(e.dir, "out", "mail.env"))
	if bytes.Equal(env1, env2) {
		t.Error("the second run did not write a new key")
	}
	// With grace 0 the first keys are revoked in the same run.
	active := 0
	for _, k := range e.smtpd.Keys() {
		if k.Active {
			active++
		}
	}
	if active != 1 {
		t.Errorf("smtpd has %d active keys, want only the new one", active)
	}
	if n := len(e.emailit.Keys()); n != 2 { // the management key and the new one
		t.Errorf("emailit has %d keys, want the management key and the new one", n)
	}

	code, status, _ := runCLI(t, "--config", e.config, "--status")
	if code != exitOK || !strings.Contains(status, "mail") || !strings.Contains(status, "CURRENT KEY ID") {
		t.Fatalf("status: exit %d\n%s", code, status)
	}
	state, _ := os.ReadFile(filepath.Join(e.dir, "state.db"))
	for where, text := range map[string]string{"logs": errs + errs2, "summary": out, "--status": status, "state file": string(state)} {
		e.assertNoSecret(t, where, text)
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	e := newEnv(t, "1h")
	code, out, errs := runCLI(t, "--config", e.config, "--run-now", "--dry-run")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "create key rotator-mail-<UTC timestamp>-<random> at smtpd (role=send_only)") {
		t.Errorf("plan:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "state.db")); !os.IsNotExist(err) {
		t.Error("a dry run created the state file")
	}
	if n := len(e.smtpd.Keys()); n != 0 {
		t.Errorf("a dry run created %d keys at smtpd", n)
	}
	if got := e.smtpd.Requests()["create"]; got != 0 {
		t.Errorf("a dry run called create %d times", got)
	}
}

func TestExitCodes(t *testing.T) {
	e := newEnv(t, "1h")
	bad := filepath.Join(e.dir, "bad.yaml")
	raw, _ := os.ReadFile(e.config)
	must(t, os.WriteFile(bad, []byte(strings.Replace(string(raw), "role: send_only", "role: admin", 1)), 0o600))
	tests := map[string]struct {
		args []string
		code int
		want string
	}{
		"valid config":          {[]string{"--config", e.config, "--check-config"}, exitOK, "OK (2 keys, 2 providers, 1 sinks)"},
		"example config":        {[]string{"--config", "../../rotator.example.yaml", "--check-config"}, exitOK, "OK"},
		"bad param":             {[]string{"--config", bad, "--check-config"}, exitConfig, "keys[0].params"},
		"missing config file":   {[]string{"--config", "/nonexistent.yaml"}, exitConfig, "no such file"},
		"no config":             {[]string{}, exitConfig, "--config is required"},
		"--key without run-now": {[]string{"--config", e.config, "--key", "mail"}, exitConfig, "run does not take --key"},
		"unknown key":           {[]string{"--config", e.config, "--run-now", "--key", "nope"}, exitConfig, "run-now: --key nope: no such key in the policy"},
		"bad log format":        {[]string{"--config", e.config, "--log-format", "xml"}, exitConfig, "--log-format"},
		"stray argument":        {[]string{"--config", e.config, "now"}, exitConfig, `run takes no argument, got "now"`},
		"version":               {[]string{"--version"}, exitOK, "rotator "},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var out, errb bytes.Buffer
			c := newCLI(&out, &errb)
			c.ctx = context.Background()
			code := c.run(tc.args)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out.String(), errb.String())
			}
			if !strings.Contains(out.String()+errb.String(), tc.want) {
				t.Errorf("output lacks %q:\nstdout: %s\nstderr: %s", tc.want, out.String(), errb.String())
			}
		})
	}
}

func TestProviderFailureExitsOne(t *testing.T) {
	e := newEnv(t, "1h")
	e.emailit.FailNext("", 50, 500)
	code, out, _ := runCLI(t, "--config", e.config, "--run-now")
	if code != exitFailed {
		t.Fatalf("exit %d, want 1 when a rotation fails", code)
	}
	if !strings.Contains(out, "news") || !strings.Contains(out, "FAILED") {
		t.Errorf("summary does not name the failed key:\n%s", out)
	}
}

// TestDaemonServesAndRefusesASecondInstance runs the daemon in-process,
// checks its endpoints, and that a second process on the same state file
// refuses to start.
func TestDaemonServesAndRefusesASecondInstance(t *testing.T) {
	e := newEnv(t, "1h")
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	var out, errb bytes.Buffer
	c := newCLI(&out, &errb)
	c.ctx = ctx
	c.onListen = func(a string) { addr <- a }
	done := make(chan int, 1)
	go func() { done <- c.run([]string{"--config", e.config, "--log-format", "json"}) }()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not listen")
	}
	waitHTTP(t, base+"/readyz", "ready")
	waitHTTP(t, base+"/metrics", `rotator_rotations_total{key="mail",provider="smtpd",result="success"} 1`)
	waitHTTP(t, base+"/status", `"current_key_id"`)

	code, _, errs := runCLI(t, "--config", e.config, "--run-now")
	if code != exitFailed || !strings.Contains(errs, "in use by another rotator process") {
		t.Errorf("second instance: exit %d, stderr %s", code, errs)
	}
	// --status asks the daemon when it holds the file.
	code, status, _ := runCLI(t, "--config", e.config, "--status", "--listen", strings.TrimPrefix(base, "http://"))
	if code != exitOK || !strings.Contains(status, "mail") {
		t.Errorf("--status while the daemon runs: exit %d\n%s", code, status)
	}
	cancel()
	select {
	case code := <-done:
		if code != exitOK {
			t.Errorf("daemon exit %d after cancellation, want 0\n%s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("daemon did not stop")
	}
	e.assertNoSecret(t, "daemon logs", errb.String())
}
