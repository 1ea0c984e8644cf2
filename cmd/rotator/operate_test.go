package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/control"
)

var update = flag.Bool("update", false, "rewrite testdata/help.golden")

// The help and usage texts are what operators and scripts read: pinned.
func TestHelpGolden(t *testing.T) {
	var all bytes.Buffer
	for _, args := range [][]string{{"--help"}, {"help"}} {
		code, out, errs := runCLIRaw(t, args...)
		if code != exitOK || errs != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errs)
		}
		if args[0] == "--help" {
			all.WriteString("$ rotator --help\n" + out)
		}
	}
	for _, c := range commands {
		code, out, errs := runCLIRaw(t, "help", c.name)
		if code != exitOK || errs != "" {
			t.Fatalf("help %s: exit %d, stderr %q", c.name, code, errs)
		}
		all.WriteString("\n$ rotator help " + c.name + "\n" + out)
		// --help after a command is the same text.
		if _, out2, _ := runCLIRaw(t, c.name, "--help"); out2 != out && c.name != "help" && c.name != "state" {
			t.Errorf("rotator %s --help differs from rotator help %s", c.name, c.name)
		}
	}
	golden := filepath.Join("testdata", "help.golden")
	if *update {
		must(t, os.MkdirAll("testdata", 0o755))
		must(t, os.WriteFile(golden, all.Bytes(), 0o644))
	}
	want, err := os.ReadFile(golden)
	must(t, err)
	if all.String() != string(want) {
		t.Errorf("help output changed (go test -run TestHelpGolden -update):\n%s", all.String())
	}
}

func runCLIRaw(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := newCLI(&out, &errb)
	c.ctx = context.Background()
	code := c.run(args)
	return code, out.String(), errb.String()
}

// Mistakes get one line with a suggestion, exit 2, and no usage dump.
func TestUsageMessages(t *testing.T) {
	e := newEnv(t, "1h")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"rotat", "--config", e.config, "mail"}, `rotator: unknown command "rotat"; did you mean "rotate"? (rotator --help lists the commands)` + "\n"},
		{[]string{"status", "--config", e.config, "--jsno"}, "rotator: unknown flag --jsno for status; did you mean --json? (rotator help status)\n"},
		{[]string{"--config", e.config, "--run-nwo"}, "rotator: unknown flag --run-nwo for run; did you mean --run-now? (rotator help run)\n"},
		{[]string{"revoke", "--config", e.config, "mail"}, "rotator: revoke needs --superseded (it revokes the key's superseded keys only)\n"},
		{[]string{"pause", "--config", e.config}, "rotator: pause needs exactly one key name: rotator pause --config FILE KEY [--reason TEXT]\n"},
	}
	for _, tc := range tests {
		code, out, errs := runCLIRaw(t, tc.args...)
		if code != exitConfig || out != "" || errs != tc.want {
			t.Errorf("%v: exit %d\nstdout %q\nstderr %q\nwant   %q", tc.args, code, out, errs, tc.want)
		}
	}
	if code, out, _ := runCLIRaw(t, "version"); code != exitOK || !strings.HasPrefix(out, "rotator ") {
		t.Errorf("version: exit %d %q", code, out)
	}
}

// Before the first run, status lists every key as never rotated (exit 0).
func TestStatusWithoutStateFile(t *testing.T) {
	e := newEnv(t, "1h")
	code, out, errs := runCLI(t, "status", "--config", e.config)
	if code != exitOK || errs != "" {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}
	words := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{"mail smtpd never rotated - now (no key yet) - - -", "news emailit never rotated - now (no key yet) - - -"}
	if len(lines) != 3 || words(lines[1]) != want[0] || words(lines[2]) != want[1] {
		t.Errorf("every key should be listed as never rotated:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(e.dir, "state.db")); err == nil {
		t.Error("status created the state file")
	}
}

// run-now without --key or --due-only says it rotates every key.
func TestRunNowSaysHowMany(t *testing.T) {
	e := newEnv(t, "1h")
	code, out, _ := runCLI(t, "run-now", "--config", e.config)
	if code != exitOK || !strings.HasPrefix(out, "run-now: rotating all 2 keys regardless of their schedule") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

// With no daemon the control commands act on the state file: pause shows
// in status, rotate --revoke-old-now leaves no superseded key, history
// has every step with the CLI user as actor.
func TestControlCommandsWithoutDaemon(t *testing.T) {
	e := newEnv(t, "1h")
	if code, out, errs := runCLI(t, "run-now", "--config", e.config); code != exitOK {
		t.Fatalf("run-now: %d %s%s", code, out, errs)
	}
	checkControlCommands(t, e)
}

// The same commands while a daemon holds the state file go through its
// control socket (0600), with the same output.
func TestControlCommandsThroughDaemon(t *testing.T) {
	e := newEnv(t, "1h")
	errb, stop := runDaemon(t, e)
	sock := control.SocketPath(filepath.Join(e.dir, "state.db"))
	deadline := time.Now().Add(20 * time.Second)
	for {
		if fi, err := os.Stat(sock); err == nil {
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("socket mode %v", fi.Mode())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no control socket\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitStatus(t, e, "mail")
	checkControlCommands(t, e)
	if code, out, errs := runCLI(t, "reload", "--config", e.config); code != exitOK || !strings.Contains(out, "policy reloaded") {
		t.Errorf("reload: %d %s%s", code, out, errs)
	}
	if code := stop(); code != exitOK {
		t.Errorf("daemon exit %d", code)
	}
	if !strings.Contains(errb.String(), `"actor":"cli:`) && !strings.Contains(errb.String(), "cli:") {
		t.Error("the daemon did not log the CLI actor")
	}
}

func waitStatus(t *testing.T, e *env, want string) {
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, out, _ := runCLI(t, "status", "--config", e.config, "--json")
		if strings.Contains(out, `"current_key_id"`) && strings.Contains(out, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("status never showed %s: %s", want, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func checkControlCommands(t *testing.T, e *env) {
	t.Helper()
	if code, out, errs := runCLI(t, "pause", "mail", "--config", e.config, "--reason", "incident 42"); code != exitOK || !strings.Contains(out, "mail: paused by cli:") {
		t.Fatalf("pause: %d %s%s", code, out, errs)
	}
	_, out, _ := runCLI(t, "status", "--config", e.config, "--json")
	var rows []struct {
		Key    string `json:"key"`
		Paused bool   `json:"paused"`
	}
	must(t, json.Unmarshal([]byte(out), &rows))
	for _, r := range rows {
		if r.Paused != (r.Key == "mail") {
			t.Errorf("status --json: %s paused=%v", r.Key, r.Paused)
		}
	}
	if _, out, _ := runCLI(t, "status", "--config", e.config); !strings.Contains(out, "paused") {
		t.Errorf("status does not say paused:\n%s", out)
	}
	if code, out, errs := runCLI(t, "resume", "--config", e.config, "mail"); code != exitOK || !strings.Contains(out, "mail: resumed") {
		t.Fatalf("resume: %d %s%s", code, out, errs)
	}
	before := len(e.smtpd.Keys())
	code, out, errs := runCLI(t, "rotate", "mail", "--revoke-old-now", "--config", e.config, "--reason", "leaked")
	if code != exitOK || !strings.Contains(out, "mail: rotated, new key ") || !strings.Contains(out, "revoked 1 superseded key(s)") {
		t.Fatalf("rotate --revoke-old-now: %d %s%s", code, out, errs)
	}
	_ = before
	code, out, _ = runCLI(t, "history", "mail", "--json", "--config", e.config)
	if code != exitOK {
		t.Fatalf("history: %d", code)
	}
	seen := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev struct{ Action, Actor, Reason, Result, Time, KeyID string }
		must(t, json.Unmarshal([]byte(line), &ev))
		seen[ev.Action] = ev.Actor
	}
	for _, a := range []string{"paused", "resumed", "created", "revoked"} {
		if !strings.HasPrefix(seen[a], "cli:") {
			t.Errorf("history: %s by %q, want a cli: actor (%v)", a, seen[a], seen)
		}
	}
	if _, out, _ := runCLI(t, "history", "--config", e.config); !strings.Contains(out, "ACTOR") {
		t.Errorf("history table:\n%s", out)
	}
	e.assertNoSecret(t, "history", out)
}
