package hooks

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"

	"github.com/rotator-dev/rotator/internal/config"
)

func execHook(name, command string, args ...string) config.Hook {
	return config.Hook{Name: name, Type: config.HookExec, Command: command, Args: args, Timeout: 30 * time.Second}
}

// An exec hook gets the event in its environment and PATH, nothing else
// of the daemon's environment; its arguments are passed without a shell;
// its output reaches the log, at most MaxOutput bytes of each stream.
func TestExecEnvironmentAndOutput(t *testing.T) {
	t.Setenv("ROTATOR_TEST_SECRET", "s3cret-of-the-daemon")
	out := filepath.Join(t.TempDir(), "env")
	sh := script(t, `env > "$1"; printf '%s|' "$@" > "$1.args"; echo hello; i=0; while [ $i -lt 2000 ]; do printf 'xxxxx' >&2; i=$((i+1)); done`)
	g := newRig(t, Options{Hooks: []config.Hook{execHook("restart", sh, out, "two words", "$HOME;rm")},
		Keys: []config.Key{keyWith("mail", config.HookRef{Hook: "restart", On: []string{config.EventConverged}})}})
	g.r.Start(nil)
	g.r.Notify(event(config.EventConverged, "mail", "k2", "k0", "k1"))
	g.waitRuns("restart", 1)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("the hook did not run: %v\n%s", err, g.logText())
	}
	var names []string
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok { // the second line of ROTATOR_TARGETS
			got["ROTATOR_TARGETS"] += "\n" + line
			continue
		}
		got[k] = v
		names = append(names, k)
	}
	for k, v := range map[string]string{"ROTATOR_EVENT": "converged", "ROTATOR_KEY": "mail", "ROTATOR_KEY_ID": "k2",
		"ROTATOR_OLD_KEY_IDS": "k0 k1", "ROTATOR_TARGETS": "file /out/mail.json\nvault kv/app", "ROTATOR_TIME": "2026-11-23T10:00:00Z"} {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range names {
		if !strings.HasPrefix(k, "ROTATOR_") && !slices.Contains([]string{"PATH", "PWD", "SHLVL", "_"}, k) {
			t.Errorf("the hook's environment holds %s, which rotator did not pass", k)
		}
	}
	if _, ok := got["ROTATOR_TEST_SECRET"]; ok || strings.Contains(string(b), "s3cret") {
		t.Error("the daemon's environment leaked into the hook's")
	}
	if args, _ := os.ReadFile(out + ".args"); string(args) != out+"|two words|$HOME;rm|" {
		t.Errorf("args %q: want them as given, no shell", args)
	}
	var stdout, stderr string
	for _, e := range g.logs.FilterMessage("hook output").All() {
		stdout, stderr = e.ContextMap()["stdout"].(string), e.ContextMap()["stderr"].(string)
	}
	if stdout != "hello" || len(stderr) > MaxOutput+40 || !strings.HasSuffix(stderr, "(5904 more bytes)") {
		t.Errorf("stdout %q, stderr %d bytes ending %q", stdout, len(stderr), stderr[max(0, len(stderr)-30):])
	}
	if g.runs("restart", "converged", "success") != 1 {
		t.Error("not counted as a success")
	}
}

// A command that exits non-zero, or cannot start, is a failure.
func TestExecFailure(t *testing.T) {
	g := newRig(t, Options{Hooks: []config.Hook{execHook("fail", script(t, "echo broken >&2; exit 3")), execHook("missing", "/nonexistent/hook")},
		Keys: []config.Key{keyWith("mail", config.HookRef{Hook: "fail", On: config.Events}, config.HookRef{Hook: "missing", On: config.Events})}})
	g.r.Start(nil)
	g.r.Notify(event(config.EventFailed, "mail", "k2"))
	g.waitRuns("fail", 1)
	g.waitRuns("missing", 1)
	if g.runs("fail", "failed", "failure") != 1 || g.runs("missing", "failed", "failure") != 1 {
		t.Errorf("runs:\n%s", g.logText())
	}
	if logs := g.logText(); !strings.Contains(logs, "exit status 3") || !strings.Contains(logs, "stderr=broken") {
		t.Errorf("logs:\n%s", logs)
	}
}

// A hook that hangs is killed at its timeout, with every process of its
// group (here a child sleeping in the background); and meanwhile the
// other hooks run.
func TestExecHangingHookIsKilledWithItsChildren(t *testing.T) {
	dir := t.TempDir()
	sh := script(t, `sleep 60 & echo $! > "$1/child"; echo $$ > "$1/leader"; wait`)
	clock := clockwork.NewFakeClockAt(t0)
	hang := execHook("hang", sh, dir)
	hang.Timeout = 5 * time.Second
	quick := filepath.Join(dir, "quick")
	g := newRig(t, Options{Clock: clock, Hooks: []config.Hook{hang, execHook("quick", "/bin/touch", quick)},
		Keys: []config.Key{keyWith("mail", config.HookRef{Hook: "hang", On: config.Events}, config.HookRef{Hook: "quick", On: config.Events})}})
	g.r.Start(nil)
	g.r.Notify(event(config.EventConverged, "mail", "k2"))
	leader, child := waitPid(t, filepath.Join(dir, "leader")), waitPid(t, filepath.Join(dir, "child"))
	g.waitRuns("quick", 1)
	if _, err := os.Stat(quick); err != nil {
		t.Fatal("the quick hook waited for the hanging one")
	}
	if !alive(leader) || !alive(child) {
		t.Fatal("the hook ended before its timeout")
	}
	clock.Advance(5 * time.Second)
	g.waitRuns("hang", 1)
	deadline := time.Now().Add(5 * time.Second)
	for (alive(leader) || alive(child)) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if alive(leader) || alive(child) {
		t.Fatalf("still running after the timeout: leader %v, child %v", alive(leader), alive(child))
	}
	if g.runs("hang", "converged", "failure") != 1 || !strings.Contains(g.logText(), "killed at its timeout (5s), with its process group") {
		t.Errorf("logs:\n%s", g.logText())
	}
}

func waitPid(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(path)
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
			return pid
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no pid in %s", path)
	return 0
}

// alive: the process exists and is not a zombie (an orphan may wait for
// a reaper in a container).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

// Notify never blocks: with a hook stuck, a full queue drops the event
// (logged, counted) and returns at once. Close kills what still runs.
func TestNotifyNeverBlocks(t *testing.T) {
	dir := t.TempDir()
	sh := script(t, `echo $$ > "$1/leader"; exec sleep 60`)
	g := newRig(t, Options{Hooks: []config.Hook{execHook("hang", sh, dir)}, Shards: 1, Queue: 2,
		Keys: []config.Key{keyWith("mail", config.HookRef{Hook: "hang", On: config.Events, BlockRevocation: true})}})
	g.r.Start(nil)
	g.r.Notify(event(config.EventConverged, "mail", "k1"))
	leader := waitPid(t, filepath.Join(dir, "leader"))
	start := time.Now()
	for range 10 {
		g.r.Notify(event(config.EventFailed, "mail", "k1"))
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("Notify blocked for %s", took)
	}
	if got := g.runs("hang", "failed", "dropped"); got != 8 {
		t.Errorf("dropped %v, want 8 (2 queued)", got)
	}
	g.r.Close()
	if alive(leader) {
		t.Error("Close left the hook running")
	}
	if !strings.Contains(g.logText(), "hook queue is full") {
		t.Errorf("logs:\n%s", g.logText())
	}
}
