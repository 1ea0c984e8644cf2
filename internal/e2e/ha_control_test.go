package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// replicaConfig writes a copy of the HA policy for one replica, with its
// own control socket (each replica has its own policy file).
func (hw *haWorld) replicaConfig(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(hw.config)
	must(t, err)
	p := filepath.Join(hw.dir, name+".yaml")
	must(t, os.WriteFile(p, append(b, fmt.Sprintf("control: {socket: ./%s.sock}\n", name)...), 0o600))
	return p
}

// holderOf is a replica's holder id, from its log.
func holderOf(t *testing.T, p *proc) string {
	t.Helper()
	m := regexp.MustCompile(`"msg":"following: another replica may lead","holder":"([^"]+)"`).FindStringSubmatch(p.logText())
	if m == nil {
		t.Fatalf("no holder id in the replica's log:\n%s", tail(p.log))
	}
	return m[1]
}

// operatorRotations counts mail's rotations started by the operator with
// reason text, and checks that each was recorded with a cli: actor.
func (hw *haWorld) operatorRotations(t *testing.T, reason string) int {
	t.Helper()
	st := hw.openPG(t)
	defer st.Close()
	evs, err := st.Events("mail", time.Time{})
	must(t, err)
	n := 0
	for _, ev := range evs {
		if ev.Action == "rotation_started" && ev.Note == reason {
			n++
			if !strings.HasPrefix(ev.Actor, "cli:") {
				t.Errorf("the operator's rotation was recorded with actor %q, want cli:<user>", ev.Actor)
			}
		}
	}
	return n
}

// TestHAControlReachesTheLeader runs two replicas of the real binary, each
// with its own policy file and control socket. `rotate mail` through the
// leader's socket rotates it (the engine of the leader's tenure acts, and
// the audit trail records the operator); through the follower's it exits
// 1 naming the leader's holder id and nothing is rotated; once the leader
// is killed and the follower has taken over, the same command through it
// rotates. No consumer outage, no orphan.
func TestHAControlReachesTheLeader(t *testing.T) {
	hw := newHAWorld(t)
	pr := hw.startProbe(t)
	cfgA, cfgB := hw.replicaConfig(t, "a"), hw.replicaConfig(t, "b")
	a := hw.start(nil, "--config", cfgA)
	a.listening(t, 10*time.Second)
	awaitLeader(t, 3*haTakeover, a)
	b := hw.start(nil, "--config", cfgB)
	b.listening(t, 10*time.Second)
	eventually(t, 20*time.Second, "mail has a current key", func() bool {
		for _, k := range hw.records(t) {
			if k.Name == "mail" && k.Current != nil {
				return true
			}
		}
		return false
	})

	code, out, logs := hw.run(t, nil, "rotate", "mail", "--config", cfgA, "--reason", "drill-leader")
	if code != 0 || !strings.Contains(out, "mail: rotated, new key ") {
		t.Fatalf("rotate through the leader's socket: exit %d\n%s%s\n%s", code, out, logs, tail(a.log))
	}
	if n := hw.operatorRotations(t, "drill-leader"); n != 1 {
		t.Errorf("rotations by the operator through the leader: %d, want 1", n)
	}
	leaderID := holderOf(t, a)
	code, out, logs = hw.run(t, nil, "rotate", "mail", "--config", cfgB, "--reason", "drill-follower")
	if code != 1 || !strings.Contains(logs, "is a follower") || !strings.Contains(logs, "the leader is "+leaderID) {
		t.Errorf("rotate through the follower's socket: exit %d, want 1 naming the leader %s\n%s%s", code, leaderID, out, logs)
	}
	if n := hw.operatorRotations(t, "drill-follower"); n != 0 {
		t.Errorf("the follower rotated %d times for the operator", n)
	}

	a.signal(syscall.SIGKILL)
	a.wait(t, 15*time.Second)
	_, took := awaitLeader(t, 3*haTakeover, b)
	code, out, logs = hw.run(t, nil, "rotate", "mail", "--config", cfgB, "--reason", "drill-new-leader")
	if code != 0 || !strings.Contains(out, "mail: rotated, new key ") {
		t.Errorf("rotate through the new leader's socket: exit %d\n%s%s", code, out, logs)
	}
	if n := hw.operatorRotations(t, "drill-new-leader"); n != 1 {
		t.Errorf("rotations by the operator through the new leader: %d, want 1", n)
	}
	superseded := time.Now()
	eventually(t, 3*time.Second+revocationBound+20*time.Second, "every key superseded before the last rotation revoked", func() bool {
		return revokedBefore(pr, superseded)
	})
	b.signal(syscall.SIGTERM)
	if st := b.wait(t, 15*time.Second); st.ExitCode() != 0 {
		t.Errorf("SIGTERM: exit %s:\n%s", st, tail(b.log))
	}
	hw.verdict(t, pr, "ha-control", fmt.Sprintf("takeover=%s", took.Round(10*time.Millisecond)))
}
