package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dumpArgsAndEnv is the start of every exec hook script here: it appends
// the hook's environment and arguments to the file named by its first
// argument's folder, which the secret search reads.
const dumpArgsAndEnv = `{ env; printf 'arg=%s\n' "$@"; echo ---; } >> "$(dirname "$1")/hook-env.log"` + "\n"

// hookScript writes an exec hook script into dir.
func hookScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	must(t, os.WriteFile(path, []byte("#!/bin/sh\n"+dumpArgsAndEnv+body), 0o700))
	return path
}

// hookWorld is a world whose policy has the exec hooks hooks, and whose
// secret search reads the hooks' environments and arguments in dir.
func hookWorld(t *testing.T, pol policy, dir string) *world {
	w := newWorld(t, pol)
	w.recordFile("the environment and arguments of exec hooks", filepath.Join(dir, "hook-env.log"))
	return w
}

// pendingDeadline is the revocation deadline /status shows for the
// superseded key id of key, or zero when it is not pending.
func pendingDeadline(t *testing.T, p *proc, key, id string) time.Time {
	t.Helper()
	_, body := p.get(t, "/status")
	var rows []struct {
		Key     string `json:"key"`
		Pending []struct {
			KeyID    string    `json:"key_id"`
			Deadline time.Time `json:"deadline"`
		} `json:"pending_revocations"`
	}
	if json.Unmarshal([]byte(body), &rows) != nil {
		return time.Time{}
	}
	for _, r := range rows {
		for _, pr := range r.Pending {
			if r.Key == key && pr.KeyID == id {
				return pr.Deadline
			}
		}
	}
	return time.Time{}
}

// rotateNow rotates key through the running daemon's control socket.
func (w *world) rotateNow(t *testing.T, key string) {
	t.Helper()
	if code, out, logs := w.run(t, nil, "rotate", key, "--config", w.config); code != 0 {
		t.Fatalf("rotate %s: exit %d\n%s\n%s", key, code, out, tail(logs))
	}
}

// An exec hook that exits non-zero on converged, with block_revocation,
// keeps the superseded key alive at the provider past its grace, and the
// failure is logged (with the hook's stderr) and counted in /metrics. The
// same hook without block_revocation (on the news key, rotated at the same
// time with the same grace) does not hold anything: its old key is revoked
// after the grace, which is also the witness that the mail key's grace has
// been acted on.
func TestFailingExecHookBlocksRevocation(t *testing.T) {
	t.Parallel()
	hdir := t.TempDir()
	pol := fastPolicy()
	pol.Schedule, pol.Grace = "@every 24h", "2s"
	pol.KeyHooks = "[{hook: restart, on: [converged], block_revocation: true}]"
	pol.NewsHooks = "[{hook: restart, on: [converged]}]"
	sh := hookScript(t, hdir, "restart.sh", "echo \"cannot restart the consumers of $ROTATOR_KEY\" >&2\nexit 3\n")
	pol.Hooks = fmt.Sprintf("hooks:\n  restart: {type: exec, command: %q, args: [%q, --graceful], timeout: 10s}\n",
		sh, filepath.Join(hdir, "app"))
	w := hookWorld(t, pol, hdir)

	p := w.daemon(t)
	old := currentIDs(t, p)
	w.rotateNow(t, "mail")
	w.rotateNow(t, "news")
	rotated := time.Now()
	cur := currentIDs(t, p)
	if cur["mail"] == old["mail"] || cur["news"] == old["news"] {
		t.Fatalf("not rotated: %v, then %v", old, cur)
	}
	eventually(t, 20*time.Second, "the news key's old key revoked after its grace (its hook does not block)", func() bool {
		return w.liveKeys()["emailit/"+old["news"]] == ""
	})
	if took := time.Since(rotated); took < 1500*time.Millisecond {
		t.Errorf("news's old key was revoked %s after its rotation, before its grace (2s)", took)
	}
	deadline := pendingDeadline(t, p, "mail", old["mail"])
	if deadline.IsZero() || w.liveKeys()["smtpd/"+old["mail"]] == "" {
		t.Fatalf("mail's old key %s is no longer pending: revoked although its blocking hook failed:\n%s", old["mail"], tail(p.log))
	}
	// The engine acts at the deadline; two seconds past it the key would
	// long be revoked had the hook not held it.
	eventually(t, 20*time.Second, "two seconds past mail's grace", func() bool { return time.Now().After(deadline.Add(2 * time.Second)) })
	if w.liveKeys()["smtpd/"+old["mail"]] == "" {
		t.Fatalf("mail's old key %s was revoked although its blocking hook failed:\n%s", old["mail"], tail(p.log))
	}
	if pendingDeadline(t, p, "mail", old["mail"]).IsZero() {
		t.Errorf("/status no longer lists mail's old key %s as pending", old["mail"])
	}
	_, m := p.get(t, "/metrics")
	if n := metric(m, "rotator_hook_runs_total", `hook="restart"`, `event="converged"`, `result="failure"`); n < 4 {
		t.Errorf("rotator_hook_runs_total{hook=restart,event=converged,result=failure} = %v, want ≥ 4 (two keys, two rotations each)", n)
	}
	for _, want := range []map[string]string{
		{"level": "error", "msg": "hook failed; the old key's revocation keeps waiting for it (at most max_grace)", "hook": "restart",
			"event": "converged", "key": "mail", "key_id": cur["mail"], "error": "command " + sh + ": exit status 3"},
		{"level": "error", "msg": "hook failed", "hook": "restart", "event": "converged", "key": "news", "key_id": cur["news"]},
		{"msg": "hook output", "hook": "restart", "key": "mail", "stderr": "cannot restart the consumers of mail"},
	} {
		if len(logLines(p.logText(), want)) == 0 {
			t.Errorf("the log has no line with %v:\n%s", want, tail(p.log))
		}
	}
	p.signal(syscall.SIGTERM)
	if st := p.wait(t, 20*time.Second); st.ExitCode() != 0 {
		t.Errorf("SIGTERM: exit %s, want 0", st)
	}
	env, _ := os.ReadFile(filepath.Join(hdir, "hook-env.log"))
	for _, want := range []string{"ROTATOR_KEY_ID=" + cur["mail"], "ROTATOR_OLD_KEY_IDS=" + old["mail"], "arg=--graceful"} {
		if !strings.Contains(string(env), want) {
			t.Errorf("the hook's environment and arguments lack %s:\n%s", want, env)
		}
	}
	t.Logf("E2E-FIGURES test=blocking_hook_failure held_past_grace_ms=%d", time.Since(deadline).Milliseconds())
}

// logLines returns the JSON log lines that have every field of want.
func logLines(logs string, want map[string]string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(logs, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil {
			continue
		}
		ok := true
		for k, v := range want {
			ok = ok && fmt.Sprint(m[k]) == v
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// processAlive reports whether pid runs (a zombie does not).
func processAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

// hookPids waits for the pid files the hanging hook writes for the event
// about key id, and returns them with the time the hook wrote them.
func hookPids(t *testing.T, dir, id string) (leader, child int, started time.Time) {
	t.Helper()
	read := func(name string) int {
		b, _ := os.ReadFile(filepath.Join(dir, "pid."+name+"."+id))
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n
	}
	eventually(t, 20*time.Second, "the hook for "+id+" started", func() bool {
		leader, child = read("leader"), read("child")
		return leader > 0 && child > 0
	})
	t.Cleanup(func() { // a failed test leaves no process behind
		for _, pid := range []int{leader, child} {
			if processAlive(pid) {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	fi, err := os.Stat(filepath.Join(dir, "pid.leader."+id))
	must(t, err)
	return leader, child, fi.ModTime()
}

// An exec hook that hangs (a script waiting on `sleep 1000`) is killed at
// its timeout with its whole process group, and the daemon goes on: the
// key rotates while the hook hangs, the next event runs the hook again
// (and it is killed again), and the daemon stops cleanly.
func TestHangingExecHookIsKilledAtItsTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 3 * time.Second
	hdir := t.TempDir()
	pol := fastPolicy()
	pol.Schedule, pol.Grace = "@every 24h", "1h"
	sh := hookScript(t, hdir, "hang.sh", `sleep 1000 &
echo $! > "$1.child.$ROTATOR_KEY_ID"
echo $$ > "$1.leader.$ROTATOR_KEY_ID"
wait
`)
	pol.Hooks = fmt.Sprintf("hooks:\n  hang: {type: exec, command: %q, args: [%q], timeout: 3s}\n", sh, filepath.Join(hdir, "pid"))
	pol.KeyHooks, pol.NewsHooks = "[{hook: hang, on: [converged]}]", "[]"
	w := hookWorld(t, pol, hdir)

	p := w.daemon(t)
	first := currentIDs(t, p)["mail"]
	leader, child, started := hookPids(t, hdir, first)
	if !processAlive(leader) || !processAlive(child) {
		t.Fatalf("the hook ended before its timeout (%s after it started)", time.Since(started))
	}
	// The hook runs outside the key's lock: the key rotates meanwhile.
	w.rotateNow(t, "mail")
	rotatedIn := time.Since(started)
	second := currentIDs(t, p)["mail"]
	eventually(t, timeout+10*time.Second, "the hanging hook and its child killed", func() bool {
		return !processAlive(leader) && !processAlive(child)
	})
	killedAfter := time.Since(started)
	// The next event for the key runs the hook again, killed again.
	leader2, child2, _ := hookPids(t, hdir, second)
	eventually(t, timeout+10*time.Second, "the second hook run killed", func() bool {
		return !processAlive(leader2) && !processAlive(child2)
	})
	eventually(t, 10*time.Second, "both runs counted as failures", func() bool {
		_, m := p.get(t, "/metrics")
		return metric(m, "rotator_hook_runs_total", `hook="hang"`, `event="converged"`, `result="failure"`) == 2
	})
	want := map[string]string{"level": "error", "msg": "hook failed", "hook": "hang", "key": "mail",
		"error": "killed at its timeout (3s), with its process group"}
	lines := logLines(p.logText(), want)
	if len(lines) != 2 {
		t.Errorf("the log has %d lines with %v, want 2:\n%s", len(lines), want, tail(p.log))
	}
	// The run's duration as the daemon measured it, from its start: the
	// timeout, plus at most the wait for the killed group's pipes.
	for _, l := range lines {
		if d, err := time.ParseDuration(fmt.Sprint(l["duration"])); err != nil || d < timeout || d > timeout+2500*time.Millisecond {
			t.Errorf("the hook ran %v (%v), want its timeout %s", l["duration"], err, timeout)
		}
	}
	if p.exited() {
		t.Fatalf("the daemon stopped:\n%s", tail(p.log))
	}
	p.signal(syscall.SIGTERM)
	if st := p.wait(t, 20*time.Second); st.ExitCode() != 0 {
		t.Errorf("SIGTERM: exit %s, want 0", st)
	}
	t.Logf("E2E-FIGURES test=hanging_hook timeout_ms=%d killed_after_script_start_ms=%d rotated_while_hanging_ms=%d",
		timeout.Milliseconds(), killedAfter.Milliseconds(), rotatedIn.Milliseconds())
}
