package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// currentIDs reads each key's current id from the daemon's /status.
func currentIDs(t *testing.T, p *proc) map[string]string {
	t.Helper()
	_, body := p.get(t, "/status")
	var rows []map[string]any
	cur := map[string]string{}
	if json.Unmarshal([]byte(body), &rows) != nil {
		return cur
	}
	for _, r := range rows {
		if id, _ := r["current_key_id"].(string); id != "" {
			cur[r["key"].(string)] = id
		}
	}
	return cur
}

// TestOperatorRotateLeakedKey: with the daemon running, `rotate K
// --revoke-old-now` puts a new key in every sink and revokes the old one
// within seconds, with no consumer outage, the daemon still running, and
// every step in the history with the operator as actor.
func TestOperatorRotateLeakedKey(t *testing.T) {
	t.Parallel()
	pol := fastPolicy()
	pol.Schedule, pol.Grace = "@every 24h", "1h"
	w := newWorld(t, pol)
	pr := w.startProbe(t)
	p := w.daemon(t)
	old := currentIDs(t, p)["mail"]
	if old == "" {
		t.Fatal("no current mail key")
	}
	start := time.Now()
	code, out, logs := w.run(t, nil, "rotate", "mail", "--config", w.config, "--revoke-old-now", "--reason", "leaked")
	took := time.Since(start)
	if code != 0 || !strings.Contains(out, "mail: rotated, new key ") || !strings.Contains(out, "revoked 1 superseded key(s)") {
		t.Fatalf("rotate --revoke-old-now: exit %d\n%s\n%s", code, out, tail(logs))
	}
	if took > 10*time.Second {
		t.Errorf("rotate --revoke-old-now took %s", took)
	}
	if _, live := w.liveKeys()["smtpd/"+old]; live {
		t.Errorf("the leaked key %s is still alive at smtpd", old)
	}
	cur := currentIDs(t, p)["mail"]
	for _, f := range []string{w.sinkPath("out", "mail.json"), w.sinkPath("backup", "mail.env")} {
		b, err := os.ReadFile(f)
		must(t, err)
		if !strings.Contains(string(b), cur) || strings.Contains(string(b), old) {
			t.Errorf("%s does not hold the new key %s alone", f, cur)
		}
	}
	if p.exited() {
		t.Fatal("the daemon stopped")
	}
	code, hist, _ := w.run(t, nil, "history", "mail", "--json", "--config", w.config)
	if code != 0 {
		t.Fatalf("history: exit %d", code)
	}
	actors := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(hist), "\n") {
		var ev struct{ Action, Actor, Note string }
		must(t, json.Unmarshal([]byte(line), &ev))
		if ev.Note == "leaked" {
			actors[ev.Action] = ev.Actor
		}
	}
	for _, a := range []string{"rotation_started", "created", "revoked"} {
		if !strings.HasPrefix(actors[a], "cli:") {
			t.Errorf("history: %s by %q, want cli:<user> (%v)", a, actors[a], actors)
		}
	}
	rep := w.stopAndVerify(t, p, pr, time.Hour)
	if len(rep.outages) > 0 {
		t.Errorf("consumer outages: %v", rep.outages)
	}
}

// TestOperatorPauseSurvivesRestart: pause stops scheduled rotations of
// one key across a restart; resume restarts them.
func TestOperatorPauseSurvivesRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, fastPolicy())
	p := w.daemon(t)
	if code, out, logs := w.run(t, nil, "pause", "mail", "--config", w.config, "--reason", "incident"); code != 0 {
		t.Fatalf("pause: exit %d %s %s", code, out, tail(logs))
	}
	p.signal(syscall.SIGTERM)
	p.wait(t, 20*time.Second)
	rotations := func() map[string]int {
		n := map[string]int{}
		for _, k := range w.openState(t) {
			n[k.Name] = k.Rotations
		}
		return n
	}
	before := rotations()
	p = w.start(nil)
	p.listening(t, 10*time.Second)
	eventually(t, 20*time.Second, "news rotating twice after the restart", func() bool {
		_, m := p.get(t, "/metrics")
		return successes(m, "news") >= 2
	})
	_, m := p.get(t, "/metrics")
	if successes(m, "mail") != 0 || metric(m, "rotator_key_paused", `key="mail"`) != 1 {
		t.Fatalf("paused mail rotated after the restart (or is not shown paused):\n%s", m)
	}
	if code, out, _ := w.run(t, nil, "status", "--config", w.config); code != 0 || !strings.Contains(out, "paused") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	if code, _, _ := w.run(t, nil, "resume", "mail", "--config", w.config); code != 0 {
		t.Fatalf("resume: exit %d", code)
	}
	eventually(t, 20*time.Second, "mail rotating after resume", func() bool {
		_, m := p.get(t, "/metrics")
		return successes(m, "mail") >= 1
	})
	_ = before
	p.signal(syscall.SIGTERM)
	p.wait(t, 20*time.Second)
}

// TestOperatorReload: a broken policy is refused and the old one kept
// (metric 0); a good one adds a key rotated at once and a target that
// receives the current credential without a rotation.
func TestOperatorReload(t *testing.T) {
	t.Parallel()
	pol := fastPolicy()
	pol.Schedule = "@every 24h"
	w := newWorld(t, pol)
	p := w.daemon(t)
	good, err := os.ReadFile(w.config)
	must(t, err)
	must(t, os.WriteFile(w.config, []byte(strings.Replace(string(good), "role: send_only", "role: admin", 1)), 0o600))
	code, _, logs := w.run(t, nil, "reload", "--config", w.config)
	if code != 1 || !strings.Contains(logs, "keeps its running policy") {
		t.Fatalf("broken reload: exit %d\n%s", code, tail(logs))
	}
	_, m := p.get(t, "/metrics")
	if metric(m, "rotator_config_last_reload_successful") != 0 {
		t.Error("rotator_config_last_reload_successful is not 0 after a failed reload")
	}
	grown := strings.Replace(string(good), "sinks: [{sink: out, path: news.json, fields: {api_key: EMAILIT_API_KEY}}]",
		"sinks: [{sink: out, path: news.json, fields: {api_key: EMAILIT_API_KEY}}, {sink: backup, path: news.json}]", 1)
	grown += `  - name: extra
    provider: smtpd
    params: {role: send_only}
    sinks: [{sink: out, path: extra.json}]
`
	must(t, os.WriteFile(w.config, []byte(grown), 0o600))
	newsBefore := currentIDs(t, p)["news"]
	code, out, logs := w.run(t, nil, "reload", "--config", w.config)
	if code != 0 || !strings.Contains(out, "policy reloaded") {
		t.Fatalf("reload: exit %d\n%s\n%s", code, out, tail(logs))
	}
	eventually(t, 20*time.Second, "the new key rotated and the new target written", func() bool {
		_, err1 := os.Stat(w.sinkPath("out", "extra.json"))
		_, err2 := os.Stat(filepath.Join(w.dir, "backup", "news.json"))
		return err1 == nil && err2 == nil
	})
	if cur := currentIDs(t, p)["news"]; cur != newsBefore {
		t.Errorf("news rotated (%s -> %s): a new target should get the current key", newsBefore, cur)
	}
	_, m = p.get(t, "/metrics")
	if metric(m, "rotator_config_last_reload_successful") != 1 {
		t.Error("rotator_config_last_reload_successful is not 1 after a good reload")
	}
	p.signal(syscall.SIGTERM)
	p.wait(t, 20*time.Second)
}

// TestOperatorPreflight: a wrong provider password is reported on its own
// line, the other provider and every target are OK, and nothing changes
// at the servers.
func TestOperatorPreflight(t *testing.T) {
	t.Parallel()
	w := newWorld(t, fastPolicy())
	code, out, logs := w.run(t, nil, "preflight", "--config", w.config)
	if code != 0 || strings.Count(out, " OK") != 7 {
		t.Fatalf("preflight: exit %d\n%s\n%s", code, out, tail(logs))
	}
	must(t, os.WriteFile(filepath.Join(w.dir, "pw"), []byte("wrong\n"), 0o600))
	code, out, _ = w.run(t, nil, "preflight", "--config", w.config)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var failed []string
	for _, l := range lines {
		if strings.Contains(l, "FAILED") {
			failed = append(failed, l)
		}
	}
	if code != 1 || len(failed) != 1 || !strings.HasPrefix(failed[0], "provider smtpd: login and list") {
		t.Fatalf("preflight with a wrong password: exit %d\n%s", code, out)
	}
	if n := w.createdKeys(); n != 0 {
		t.Errorf("preflight created %d keys", n)
	}
	if _, err := os.Stat(w.statePath()); err == nil {
		t.Error("preflight created the state file")
	}
}

// TestOperatorWithoutDaemon: the same commands act on the state file.
func TestOperatorWithoutDaemon(t *testing.T) {
	t.Parallel()
	pol := fastPolicy()
	pol.Schedule, pol.Grace = "@every 24h", "1h"
	w := newWorld(t, pol)
	if code, out, logs := w.run(t, nil, "run-now", "--config", w.config); code != 0 {
		t.Fatalf("run-now: %d %s %s", code, out, tail(logs))
	}
	if code, _, _ := w.run(t, nil, "pause", "news", "--config", w.config); code != 0 {
		t.Fatal("pause without daemon")
	}
	code, out, logs := w.run(t, nil, "rotate", "--config", w.config, "mail", "--revoke-old-now")
	if code != 0 || !strings.Contains(out, "revoked 1 superseded key(s)") {
		t.Fatalf("rotate without daemon: %d %s %s", code, out, tail(logs))
	}
	code, out, _ = w.run(t, nil, "status", "--config", w.config, "--json")
	if code != 0 || !strings.Contains(out, `"paused": true`) {
		t.Fatalf("status: %d %s", code, out)
	}
	if code, out, _ := w.run(t, nil, "reload", "--config", w.config); code != 1 {
		t.Errorf("reload without daemon: exit %d %s", code, out)
	}
	if len(w.untracked(t)) != 0 {
		t.Errorf("untracked keys: %v", w.untracked(t))
	}
}
