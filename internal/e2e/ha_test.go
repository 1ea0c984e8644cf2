package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/state/pgstore"
	"github.com/rotator-dev/rotator/internal/state/pgstore/pgtest"
)

// The HA tests run replicas of the real binary against one PostgreSQL
// database (state.backend postgres), with a 2 s lease: a follower may take
// over 2 s after the leader's last renewal, and tries every 2/3 s.
const (
	haTTL = 2 * time.Second
	// haTakeover bounds a takeover: lease expiry plus one retry interval
	// plus one evaluation.
	haTakeover = haTTL + haTTL/3 + 1500*time.Millisecond
)

// haWorld is a world whose policy keeps its state in a fresh schema of the
// test cluster.
type haWorld struct {
	*world
	dsn, schema string
}

func newHAWorld(t *testing.T) *haWorld {
	t.Helper()
	dsn := pgtest.DSN(t)
	hw := &haWorld{world: newWorld(t, fastPolicy()), dsn: dsn, schema: pgtest.Schema(t, dsn)}
	b, err := os.ReadFile(hw.config)
	must(t, err)
	re := regexp.MustCompile(`(?m)^state: .*$`)
	if !re.Match(b) {
		t.Fatal("the world's policy has no state: line")
	}
	section := fmt.Sprintf("state: {backend: postgres, dsn: %q, schema: %s, lease_ttl: %s}", dsn, hw.schema, haTTL)
	must(t, os.WriteFile(hw.config, re.ReplaceAll(b, []byte(section)), 0o600))
	return hw
}

// records reads the shared state (while the replicas run).
func (hw *haWorld) records(t *testing.T) []state.Key {
	t.Helper()
	st := hw.openPG(t)
	defer st.Close()
	all, err := st.All()
	must(t, err)
	return all
}

func (hw *haWorld) openPG(t *testing.T) *pgstore.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := pgstore.Open(ctx, pgstore.Options{DSN: hw.dsn, Schema: hw.schema, ReadOnly: true})
	if err != nil {
		t.Fatalf("the shared state does not open: %v", err)
	}
	return st
}

// untracked is world.untracked over the shared state: live keys at the
// providers that no record accounts for.
func (hw *haWorld) untracked(t *testing.T) []string {
	t.Helper()
	tracked := map[string]bool{}
	for _, k := range hw.records(t) {
		if k.Current != nil {
			tracked[k.Current.Provider+"/"+k.Current.ID] = true
		}
		for _, r := range k.Retiring {
			tracked[r.Provider+"/"+r.ID] = true
		}
		if r := k.Rotation; r != nil {
			tracked[r.Provider+"/"+r.KeyID] = true
			tracked["name:"+r.KeyName] = true
		}
		for _, w := range k.Watch {
			tracked["name:"+w.Name] = true
		}
	}
	var out []string
	for id, name := range hw.liveKeys() {
		if !tracked[id] && !tracked["name:"+name] {
			out = append(out, id+" ("+name+")")
		}
	}
	return out
}

// leading reports whether p says rotator_leader 1 (false when it does not
// answer: stopped or dead).
func leading(t *testing.T, p *proc) bool {
	if p.exited() {
		return false
	}
	status, body := p.get(t, "/metrics")
	return status == 200 && metric(body, "rotator_leader") == 1
}

// awaitLeader waits until exactly one of ps leads and returns it and how
// long that took.
func awaitLeader(t *testing.T, within time.Duration, ps ...*proc) (*proc, time.Duration) {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		var leaders []*proc
		for _, p := range ps {
			if leading(t, p) {
				leaders = append(leaders, p)
			}
		}
		if len(leaders) == 1 {
			return leaders[0], time.Since(start)
		}
		if len(leaders) > 1 {
			t.Fatalf("%d replicas say they lead at once", len(leaders))
		}
		time.Sleep(50 * time.Millisecond) // the poll interval
	}
	t.Fatalf("no replica leads within %s", within)
	return nil, 0
}

// checkEvents: no schedule time is rotated twice (two rotations of a key
// started by the schedule less than the schedule's interval apart would be
// two leaders acting on one due time), and no provider key is created
// twice.
func (hw *haWorld) checkEvents(t *testing.T) (rotations int) {
	t.Helper()
	st := hw.openPG(t)
	defer st.Close()
	for _, k := range []string{"mail", "news"} {
		evs, err := st.Events(k, time.Time{})
		must(t, err)
		var last time.Time
		created := map[string]bool{}
		for _, ev := range evs {
			switch ev.Action {
			case "rotation_started":
				rotations++
				if ev.Reason == "schedule" && !last.IsZero() && ev.Time.Sub(last) < time.Second {
					t.Errorf("%s: two scheduled rotations started %s apart (%s, %s)", k, ev.Time.Sub(last), last, ev.Time)
				}
				if ev.Reason == "schedule" {
					last = ev.Time
				}
			case "created":
				if created[ev.KeyID] {
					t.Errorf("%s: key %s created twice", k, ev.KeyID)
				}
				created[ev.KeyID] = true
			}
		}
	}
	return rotations
}

// verdict: no outage, no orphan, no double rotation, no password of the
// database in any output.
func (hw *haWorld) verdict(t *testing.T, pr *probe, name string, extra string) {
	t.Helper()
	pr.close()
	if u := hw.untracked(t); len(u) > 0 {
		t.Errorf("orphans: %v", u)
	}
	rotations := hw.checkEvents(t)
	rep := pr.summary(3*time.Second + revocationBound)
	for _, o := range rep.outages {
		t.Errorf("outage: %s", o)
	}
	if _, pw, ok := strings.Cut(strings.TrimPrefix(hw.dsn, "postgres://"), ":"); ok {
		pw, _, _ = strings.Cut(pw, "@")
		for i := 1; i <= hw.runs; i++ {
			b, _ := os.ReadFile(fmt.Sprintf("%s/run-%03d.log", hw.dir, i))
			if len(pw) > 3 && strings.Contains(string(b), pw) {
				t.Errorf("run %d logged the database password", i)
			}
		}
	}
	t.Logf("E2E-FIGURES test=%s rotations=%d keys_created=%d probe_reads=%d outages=%d orphans=%d %s",
		name, rotations, hw.createdKeys(), rep.reads, len(rep.outages), len(hw.untracked(t)), extra)
}

// TestHALeaderKilled runs two replicas (three in the last round) and kills
// the leader with SIGKILL at every lifecycle boundary (the failpoint build
// kills itself there) and at random moments: each time the follower takes
// over within the lease's expiry plus one evaluation and resumes the
// rotation in flight from the shared journal. No consumer outage, no
// orphaned key, no schedule time rotated twice.
func TestHALeaderKilled(t *testing.T) {
	seed := testSeed(t)
	hw := newHAWorld(t)
	pr := hw.startProbe(t)
	var worst time.Duration
	takeover := func(dead *proc, others ...*proc) {
		t.Helper()
		st := dead.wait(t, 30*time.Second)
		if ws, _ := st.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("the leader exited with %s, want killed by SIGKILL:\n%s", st, tail(dead.log))
		}
		_, took := awaitLeader(t, 3*haTakeover, others...)
		worst = max(worst, took)
		if took > haTakeover {
			t.Errorf("takeover took %s, want at most %s (lease %s + retry + one evaluation)", took, haTakeover, haTTL)
		}
	}
	// 1. Every failpoint: a replica armed at the boundary leads (it is
	// started alone, after the previous standby stopped cleanly and so
	// released the lease), a plain standby follows; the leader kills
	// itself at the boundary and the standby takes over.
	var standby *proc
	for _, fp := range rotate.Failpoints {
		if standby != nil {
			standby.signal(syscall.SIGTERM)
			standby.wait(t, 15*time.Second)
		}
		armed := hw.start([]string{"ROTATOR_FAILPOINT=" + fp})
		eventually(t, 3*haTakeover, "the armed replica leads", func() bool {
			return strings.Contains(armed.logText(), `"msg":"leadership acquired"`)
		})
		standby = hw.start(nil)
		standby.listening(t, 10*time.Second)
		takeover(armed, standby)
		if !strings.Contains(armed.logText(), `"failpoint":"`+fp+`"`) {
			t.Errorf("run for %s: the failpoint was not armed", fp)
		}
		if u := hw.untracked(t); len(u) > 0 {
			t.Errorf("after the kill at %s: orphans %v", fp, u)
		}
	}
	// 2. Random moments, three replicas.
	ps := []*proc{standby, hw.start(nil), hw.start(nil)}
	rnd := rand.New(rand.NewPCG(seed, 15))
	for i := 0; i < 4; i++ {
		for _, p := range ps {
			p.listening(t, 10*time.Second)
		}
		l, _ := awaitLeader(t, 3*haTakeover, ps...)
		time.Sleep(time.Duration(rnd.Int64N(int64(3 * time.Second)))) // the random moment itself
		l.signal(syscall.SIGKILL)
		var rest []*proc
		for _, p := range ps {
			if p != l {
				rest = append(rest, p)
			}
		}
		takeover(l, rest...)
		ps = append(rest, hw.start(nil))
	}
	// A clean stretch: every key superseded so far is revoked.
	superseded := time.Now()
	eventually(t, 3*time.Second+revocationBound+20*time.Second, "every key superseded before the last takeover revoked", func() bool {
		return revokedBefore(pr, superseded)
	})
	for _, p := range ps {
		p.signal(syscall.SIGTERM)
		if st := p.wait(t, 15*time.Second); st.ExitCode() != 0 {
			t.Errorf("SIGTERM: exit %s:\n%s", st, tail(p.log))
		}
	}
	hw.verdict(t, pr, "ha-kill", fmt.Sprintf("failpoints=%d random_kills=4 worst_takeover=%s bound=%s",
		len(rotate.Failpoints), worst.Round(10*time.Millisecond), haTakeover))
}

// inFlight names the key with a rotation in flight in the shared state,
// and how many rotations of it have completed.
func (hw *haWorld) inFlight(t *testing.T) (string, int) {
	t.Helper()
	for _, k := range hw.records(t) {
		if k.Rotation != nil {
			return k.Name, k.Rotations
		}
	}
	t.Fatal("no rotation in flight in the shared state")
	return "", 0
}

// stopped reports whether the process is stopped (SIGSTOP).
func stopped(p *proc) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(rest, "T")
}

// TestHALeaderPaused pauses the leader (SIGSTOP, by its failpoint) just
// after a key was created at the provider and before that was recorded,
// keeps it stopped past its lease, and resumes it (SIGCONT) once the
// follower leads. The follower takes over within the lease's expiry plus
// one evaluation and resumes the rotation from the journal (it finds the
// created key by name); the deposed leader's write is refused by the fence
// (a newer token holds the lease row) and it goes back to following. No
// outage, no orphan, no key created twice. Without the fence the deposed
// leader's write would be accepted: the test fails on its "write refused".
func TestHALeaderPaused(t *testing.T) {
	hw := newHAWorld(t)
	pr := hw.startProbe(t)
	a := hw.start([]string{"ROTATOR_FAILPOINT=after-create", "ROTATOR_FAILPOINT_ACTION=stop"})
	a.listening(t, 10*time.Second)
	eventually(t, 3*haTakeover, "the first replica leads", func() bool {
		return strings.Contains(a.logText(), `"msg":"leadership acquired"`)
	})
	b := hw.start(nil)
	b.listening(t, 10*time.Second)
	if leading(t, b) { // the lease is A's for at least a second more
		t.Error("a starting follower says rotator_leader 1")
	}
	eventually(t, 15*time.Second, "the leader pauses at after-create", func() bool { return stopped(a) })
	pausedAt := time.Now()
	inFlight, done0 := hw.inFlight(t)
	_, took := awaitLeader(t, 3*haTakeover, b)
	if took > haTakeover {
		t.Errorf("takeover of a paused leader took %s, want at most %s", took, haTakeover)
	}
	eventually(t, 30*time.Second, "the new leader resumes the rotation of "+inFlight+" in flight and rotates it again", func() bool {
		for _, k := range hw.records(t) {
			if k.Name == inFlight {
				return k.Rotations >= done0+2
			}
		}
		return false
	})
	a.signal(syscall.SIGCONT)
	eventually(t, 10*time.Second, "the deposed leader notices and follows again", func() bool {
		return strings.Contains(a.logText(), "following again")
	})
	logs := a.logText()
	if !strings.Contains(logs, "write refused: a newer leader holds the lease") {
		t.Errorf("the deposed leader's write after its pause was not refused by the fence:\n%s", tail(a.log))
	}
	// A duration, not a wait for something: the deposed leader has a few
	// lease renewals' time to (wrongly) take the lease back.
	time.Sleep(3 * time.Second)
	if leading(t, a) || !leading(t, b) {
		t.Errorf("after the pause: first replica leads %v, second %v; want the second only", leading(t, a), leading(t, b))
	}
	if status, body := a.get(t, "/metrics"); status != 200 || !strings.Contains(body, "\nrotator_leader 0\n") {
		t.Errorf("the follower's /metrics: %d, want 200 with rotator_leader 0", status)
	}
	for _, p := range []*proc{a, b} {
		if status, _ := p.get(t, "/readyz"); status != 200 {
			t.Errorf("/readyz of a replica: %d, want 200 (a follower is a healthy standby)", status)
		}
		if status, body := p.get(t, "/status"); status != 200 || !strings.Contains(body, "mail") {
			t.Errorf("/status of a replica: %d %s", status, body)
		}
	}
	for _, p := range []*proc{a, b} {
		p.signal(syscall.SIGTERM)
		if st := p.wait(t, 15*time.Second); st.ExitCode() != 0 {
			t.Errorf("SIGTERM: exit %s:\n%s", st, tail(p.log))
		}
	}
	hw.verdict(t, pr, "ha-pause", fmt.Sprintf("takeover=%s paused_for=%s fenced_writes=%d",
		took.Round(10*time.Millisecond), time.Since(pausedAt).Round(100*time.Millisecond),
		strings.Count(logs, "write refused")))
}

// ownCluster starts a PostgreSQL cluster for one test (it is restarted,
// which the shared test cluster must not be) and returns its DSN and a
// restart function.
func ownCluster(t *testing.T) (dsn string, restart func()) {
	t.Helper()
	pgtest.DSN(t) // no cluster in CI is a failure there, as for every HA test
	script, err := filepath.Abs(filepath.Join("..", "..", "scripts", "pg-test-cluster"))
	must(t, err)
	dir, err := os.MkdirTemp("", "rotator-ha-pg-")
	must(t, err)
	out, err := exec.Command(script, "start", dir).Output()
	if err != nil {
		t.Fatalf("scripts/pg-test-cluster start: %v", err)
	}
	t.Cleanup(func() {
		_ = exec.Command(script, "stop", dir).Run()
		os.RemoveAll(dir)
	})
	return strings.TrimSpace(string(out)), func() {
		t.Helper()
		if out, err := exec.Command(script, "restart", dir).CombinedOutput(); err != nil {
			t.Fatalf("restart the database: %v\n%s", err, out)
		}
	}
}

// TestHADatabaseRestart restarts the database (fast shutdown: every
// connection dropped) three times at random moments while two replicas
// rotate every 3 s: the replicas keep running, one leads afterwards, and no
// consumer sees an outage, no key is orphaned or created twice.
func TestHADatabaseRestart(t *testing.T) {
	seed := testSeed(t)
	dsn, restart := ownCluster(t)
	t.Setenv(pgtest.EnvDSN, dsn)
	hw := newHAWorld(t)
	pr := hw.startProbe(t)
	a, b := hw.start(nil), hw.start(nil)
	a.listening(t, 10*time.Second)
	b.listening(t, 10*time.Second)
	awaitLeader(t, 3*haTakeover, a, b)
	rnd := rand.New(rand.NewPCG(seed, 16))
	for i := 0; i < 3; i++ {
		time.Sleep(time.Second + time.Duration(rnd.Int64N(int64(3*time.Second)))) // the random moment itself
		restart()
	}
	_, took := awaitLeader(t, 3*haTakeover, a, b)
	restarted := time.Now()
	done0 := map[string]int{}
	for _, k := range hw.records(t) {
		done0[k.Name] = k.Rotations
	}
	eventually(t, 3*time.Second+revocationBound+30*time.Second, "both keys rotated, and every key superseded before the last restart revoked, after it", func() bool {
		n := 0
		for _, k := range hw.records(t) {
			if k.Rotations > done0[k.Name] {
				n++
			}
		}
		return n == 2 && revokedBefore(pr, restarted)
	})
	// A one-shot run while a daemon leads is refused (it would act beside
	// the leader).
	if code, _, logs := hw.run(t, nil, "--config", hw.config, "--run-now"); code != 1 || !strings.Contains(logs, "another replica holds the leadership lease") {
		t.Errorf("run-now while a daemon leads: exit %d, want 1 and a refusal:\n%s", code, logs)
	}
	for _, p := range []*proc{a, b} {
		if p.exited() {
			t.Fatalf("a replica exited after a database restart:\n%s", tail(p.log))
		}
		p.signal(syscall.SIGTERM)
		if st := p.wait(t, 15*time.Second); st.ExitCode() != 0 {
			t.Errorf("SIGTERM: exit %s:\n%s", st, tail(p.log))
		}
	}
	hw.verdict(t, pr, "ha-db-restart", fmt.Sprintf("restarts=3 leader_after=%s", took.Round(10*time.Millisecond)))
}
