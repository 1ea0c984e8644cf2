package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/rotate"
)

// revocationBound is how late past its grace period a superseded key may
// be revoked: the probe's 100 ms poll, a restart, and a busy machine.
const revocationBound = 4 * time.Second

// TestCrashAtEveryStep kills the daemon with SIGKILL at every lifecycle
// boundary in turn and then at random moments, restarting it on the same
// state file each time, while the probe reads every sink. It then lets the
// daemon run cleanly, stops it, and checks: no outage, no orphan, every
// superseded key revoked within grace plus a bound, the state file always
// opens, and a second instance refuses to start.
func TestCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	seed := testSeed(t)
	w := newWorld(t, fastPolicy())
	pr := w.startProbe(t)
	grace := 3 * time.Second
	kills, fpKills, randomKills := 0, 0, 0

	killed := func(p *proc, what string) {
		t.Helper()
		st := p.wait(t, 30*time.Second)
		ws, _ := st.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("%s: rotator exited with %s, want killed by SIGKILL:\n%s", what, st, tail(p.log))
		}
		kills++
		// After every kill: the state file opens and accounts for every
		// live key at the providers.
		if u := w.untracked(t); len(u) > 0 {
			t.Errorf("after the kill %s, keys alive at the providers that the state does not track: %v", what, u)
		}
	}

	// 1. Every failpoint, in lifecycle order. Each run is killed the first
	// time it reaches the boundary; the next run recovers under the next
	// failpoint.
	for _, fp := range rotate.Failpoints {
		p := w.start([]string{"ROTATOR_FAILPOINT=" + fp})
		killed(p, "at "+fp)
		fpKills++
		if !strings.Contains(p.logText(), `"failpoint":"`+fp+`"`) {
			t.Errorf("run for %s: the failpoint was not armed", fp)
		}
	}
	// A second round with a skip, so that kills land in the middle of
	// recoveries and later rotations too.
	for i, fp := range rotate.Failpoints {
		p := w.start([]string{"ROTATOR_FAILPOINT=" + fp, fmt.Sprintf("ROTATOR_FAILPOINT_SKIP=%d", 1+i%2)})
		killed(p, fmt.Sprintf("at %s (skip %d)", fp, 1+i%2))
		fpKills++
	}
	// 2. Random moments.
	rnd := rand.New(rand.NewPCG(seed, 7))
	for i := 0; i < 8; i++ {
		p := w.start(nil)
		p.listening(t, 10*time.Second)
		time.Sleep(time.Duration(rnd.Int64N(int64(3500 * time.Millisecond)))) // the random moment itself
		if p.exited() {
			t.Fatalf("rotator exited on its own:\n%s", tail(p.log))
		}
		p.signal(syscall.SIGKILL)
		killed(p, fmt.Sprintf("at random #%d", i+1))
		randomKills++
	}

	// 3. A clean run long enough for every due revocation and a few
	// rotations; a second instance meanwhile must refuse to start.
	p := w.start(nil)
	p.listening(t, 10*time.Second)
	code, _, logs := w.run(t, nil, "--config", w.config, "--run-now")
	if code != 1 || !strings.Contains(logs, "in use by another rotator process") || !strings.Contains(logs, "state.db") {
		t.Errorf("a second instance: exit %d, want 1 and a message naming the lock and the file:\n%s", code, logs)
	}
	if status, body := p.get(t, "/metrics"); status != 200 || !strings.Contains(body, "rotator_rotations_total") {
		t.Errorf("/metrics: %d", status)
	}
	p.get(t, "/status")
	code, out, _ := w.run(t, nil, "--config", w.config, "--status", "--listen", p.listening(t, time.Second))
	if code != 0 || !strings.Contains(out, "mail") {
		t.Errorf("--status while the daemon runs: exit %d\n%s", code, out)
	}
	clean := time.Now()
	_, m := p.get(t, "/metrics")
	mail0, news0 := successes(m, "mail"), successes(m, "news")
	eventually(t, grace+3*time.Second+revocationBound+20*time.Second, "two rotations of both keys, and every key superseded before the clean run revoked", func() bool {
		if p.exited() {
			t.Fatalf("rotator exited during the clean run:\n%s", tail(p.log))
		}
		_, m := p.get(t, "/metrics")
		return successes(m, "mail") >= mail0+2 && successes(m, "news") >= news0+2 && revokedBefore(pr, clean)
	})
	p.signal(syscall.SIGTERM)
	if st := p.wait(t, 15*time.Second); st.ExitCode() != 0 {
		t.Errorf("SIGTERM: exit %s, want 0:\n%s", st, tail(p.log))
	}
	pr.close()

	// 4. The verdict.
	if u := w.untracked(t); len(u) > 0 {
		t.Errorf("orphans after a clean stop: %v", u)
	}
	rotations := 0
	for _, k := range w.openState(t) {
		rotations += k.Rotations
		if k.Rotation != nil {
			t.Errorf("%s: a rotation is still in flight after a clean stop: %+v", k.Name, k.Rotation)
		}
		for _, r := range k.Retiring {
			if time.Since(r.RevokeAfter) > revocationBound {
				t.Errorf("%s: key %s overdue for revocation by %s (last error %q)", k.Name, r.ID, time.Since(r.RevokeAfter), r.LastError)
			}
		}
	}
	rep := pr.summary(grace + revocationBound)
	for _, o := range rep.outages {
		t.Errorf("outage: %s", o)
	}
	for _, u := range rep.unrevoked {
		t.Errorf("superseded key not revoked within grace + %s: %s", revocationBound, u)
	}
	for id, d := range rep.revocationDelays {
		if d > grace+revocationBound {
			t.Errorf("key %s revoked %s after it left the sinks, want at most grace (%s) + %s", id, d, grace, revocationBound)
		}
	}
	if rotations < len(rotate.Failpoints) {
		t.Errorf("only %d rotations completed", rotations)
	}
	if rep.reads < 100 {
		t.Errorf("the probe made only %d reads", rep.reads)
	}
	t.Logf("E2E-FIGURES test=crash kills=%d failpoint_kills=%d random_kills=%d rotations=%d keys_created=%d probe_reads=%d outages=%d orphans=%d revoked=%d max_revocation_delay=%s grace=%s",
		kills, fpKills, randomKills, rotations, w.createdKeys(), rep.reads, len(rep.outages), len(w.untracked(t)),
		len(rep.revocationDelays), rep.maxDelay().Round(10*time.Millisecond), grace)
}

// revokedBefore says whether every key the probe saw leave the sinks
// before the time given has been revoked at its provider.
func revokedBefore(pr *probe, before time.Time) bool {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	latest := map[string]time.Time{} // provider → the current key's last read
	for id, at := range pr.held {
		prov, _, _ := strings.Cut(id, "/")
		if at.After(latest[prov]) {
			latest[prov] = at
		}
	}
	for id, at := range pr.held {
		prov, _, _ := strings.Cut(id, "/")
		if _, gone := pr.revoked[id]; at.Before(before) && !at.Equal(latest[prov]) && !gone {
			return false
		}
	}
	return true
}

// TestCrashDuringRunNow kills `--run-now` (the systemd timer and CronJob
// mode) at every lifecycle boundary with grace 0s, where the old key is
// revoked in the same run as soon as every sink holds the new one; the next
// run must recover and exit 0, with no orphan and no outage.
func TestCrashDuringRunNow(t *testing.T) {
	t.Parallel()
	pol := fastPolicy()
	pol.Grace = "0s"
	pol.Timeout = "3s" // how long an interrupted create's intent is kept
	w := newWorld(t, pol)
	pr := w.startProbe(t)
	code, out, logs := w.run(t, nil, "--config", w.config, "--run-now")
	if code != 0 {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, logs)
	}
	kills := 0
	for _, fp := range rotate.Failpoints {
		p := w.start([]string{"ROTATOR_FAILPOINT=" + fp}, "--config", w.config, "--run-now")
		st := p.wait(t, 60*time.Second)
		ws, _ := st.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("%s: exit %s, want killed by SIGKILL:\n%s", fp, st, tail(p.log))
		}
		kills++
		if u := w.untracked(t); len(u) > 0 {
			t.Errorf("after the kill at %s: untracked keys %v", fp, u)
		}
		// The next run recovers. A create cut short keeps its intent until
		// the rotation timeout: that run may fail, and the one after the
		// timeout succeeds.
		deadline := time.Now().Add(30 * time.Second)
		for {
			code, out, _ := w.run(t, nil, "--config", w.config, "--run-now")
			if code == 0 {
				break
			}
			if time.Now().After(deadline) || !strings.Contains(out, "may still reach the provider") {
				t.Fatalf("after the kill at %s: exit %d\n%s", fp, code, out)
			}
			// The retry interval, not a wait for something: the next run is
			// a new process, as a timer would start it.
			time.Sleep(time.Second)
		}
		if u := w.untracked(t); len(u) > 0 {
			t.Errorf("after recovering from %s: untracked keys %v", fp, u)
		}
		for _, k := range w.openState(t) {
			if k.Rotation != nil || len(k.Retiring) > 0 {
				t.Errorf("after recovering from %s: %s has rotation=%v retiring=%d, want neither with grace 0", fp, k.Name, k.Rotation, len(k.Retiring))
			}
		}
	}
	pr.close()
	rep := pr.summary(time.Hour)
	for _, o := range rep.outages {
		t.Errorf("outage: %s", o)
	}
	t.Logf("E2E-FIGURES test=crash-run-now kills=%d keys_created=%d probe_reads=%d outages=%d orphans=%d",
		kills, w.createdKeys(), rep.reads, len(rep.outages), len(w.untracked(t)))
}
