package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/state/pgstore"
	"github.com/rotator-dev/rotator/internal/state/pgstore/pgtest"
)

// lockedBuffer is a daemon's log, read while it writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// replicaProc is a daemon run in this process against the shared schema.
type replicaProc struct {
	config, hooks string
	log           *lockedBuffer
	stop          context.CancelFunc
	done          chan int
}

// replicaPolicy writes name.yaml: the env's policy on the shared schema,
// with its own control socket and an exec hook that appends each event it
// is told to name-hooks (block_revocation on converged for mail).
func replicaPolicy(t *testing.T, e *env, name, section string) *replicaProc {
	t.Helper()
	r := &replicaProc{hooks: filepath.Join(e.dir, name+"-hooks")}
	b, err := os.ReadFile(e.config)
	must(t, err)
	s := strings.Replace(string(b), "state: {path: ./state.db}", "state: "+section+"\ncontrol: {socket: ./"+name+".sock}", 1)
	s = strings.Replace(s, "keys:\n", fmt.Sprintf("hooks:\n  note: {type: exec, command: /bin/sh, args: [-c, %q]}\nkeys:\n",
		`echo "$ROTATOR_EVENT $ROTATOR_KEY_ID" >> `+r.hooks), 1)
	s = strings.Replace(s, "    sinks: [{sink: out, path: mail.env}]\n", "    sinks: [{sink: out, path: mail.env}]\n"+
		"    hooks: [{hook: note, on: [converged, revoked, failed, emergency], block_revocation: true}]\n", 1)
	r.config = filepath.Join(e.dir, name+".yaml")
	must(t, os.WriteFile(r.config, []byte(s), 0o600))
	return r
}

func (r *replicaProc) start(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r.log, r.stop, r.done = &lockedBuffer{}, cancel, make(chan int, 1)
	c := newCLI(&bytes.Buffer{}, r.log)
	c.ctx = ctx
	go func() { r.done <- c.run([]string{"run", "--config", r.config, "--log-format", "json"}) }()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
}

// await waits until the daemon's log has want.
func (r *replicaProc) await(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(r.log.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the daemon never logged %s:\n%s", want, r.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holder is the replica's holder id, from its log.
func (r *replicaProc) holder(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`"msg":"following: another replica may lead","holder":"([^"]+)"`).FindStringSubmatch(r.log.String())
	if m == nil {
		t.Fatalf("no holder id in the log:\n%s", r.log.String())
	}
	return m[1]
}

func (r *replicaProc) hookEvents() string {
	b, _ := os.ReadFile(r.hooks)
	return string(b)
}

// TestReplicaControlReachesTheLeader runs two replicas in this process on
// one database, each with its own control socket and policy file. Through
// the leader's socket `rotate` rotates with the tenure's engine (recorded
// with the CLI actor) and its block_revocation hook's success is recorded;
// through the follower's it is refused with exit 1 naming the leader, and
// the follower sends no hook event, while status and history are served
// from the shared state. A reload on the follower is the policy of its
// later tenure; after the takeover the new leader accepts the commands,
// and a reload on it reaches its running engine.
func TestReplicaControlReachesTheLeader(t *testing.T) {
	dsn := pgtest.DSN(t)
	e := newEnv(t, "1h")
	section := fmt.Sprintf("{backend: postgres, dsn: %q, schema: %s, lease_ttl: 2s}", dsn, pgtest.Schema(t, dsn))
	a, b := replicaPolicy(t, e, "a", section), replicaPolicy(t, e, "b", section)
	a.start(t)
	a.await(t, `"msg":"leading: the engine runs"`)
	b.start(t)
	b.await(t, `"msg":"serving the control socket"`)
	waitStatus(t, &env{config: a.config}, "mail")

	// The leader acts, through its tenure's engine.
	code, out, errs := runCLI(t, "rotate", "mail", "--config", a.config, "--reason", "drill")
	if code != exitOK || !strings.Contains(out, "mail: rotated, new key ") {
		t.Fatalf("rotate through the leader: exit %d\n%s%s", code, out, errs)
	}
	_, hist, _ := runCLI(t, "history", "mail", "--json", "--config", b.config)
	if !regexp.MustCompile(`"action":"created"[^\n]*"actor":"cli:`).MatchString(hist) {
		t.Errorf("history through the follower has no creation by a cli: actor:\n%s", hist)
	}
	awaitHooksReleased(t, dsn, section, "mail")

	// The follower refuses, names the leader, and tells no hook.
	hooksBefore := b.hookEvents()
	for _, args := range [][]string{{"rotate", "mail", "--revoke-old-now"}, {"pause", "mail"}, {"revoke", "mail", "--superseded"}} {
		code, out, errs := runCLI(t, append(args, "--config", b.config)...)
		if code != exitFailed || !strings.Contains(errs, "is a follower") || !strings.Contains(errs, "the leader is "+a.holder(t)) {
			t.Errorf("%s through the follower: exit %d, want 1 naming the leader %s\n%s%s", args[0], code, a.holder(t), out, errs)
		}
	}
	if code, out, _ := runCLI(t, "status", "--config", b.config); code != exitOK || !strings.Contains(out, "mail") {
		t.Errorf("status through the follower: exit %d\n%s", code, out)
	}
	if got := b.hookEvents(); got != hooksBefore {
		t.Errorf("the follower told its hooks: %q", strings.TrimPrefix(got, hooksBefore))
	}

	// A reload on the follower is the policy of its next tenure; a target
	// added to a key is no failure there (the leader writes it).
	addKey(t, b.config, "mail2")
	raw, err := os.ReadFile(b.config)
	must(t, err)
	grown := strings.Replace(string(raw), "path: mail.env}]", "path: mail.env}, {sink: out, path: mail-copy.env}]", 1)
	must(t, os.WriteFile(b.config, []byte(grown), 0o600))
	if code, out, errs := runCLI(t, "reload", "--config", b.config); code != exitOK || !strings.Contains(out, "added [mail2]") {
		t.Fatalf("reload on the follower: exit %d\n%s%s", code, out, errs)
	}
	a.stop()
	stopped := <-a.done
	a.done <- stopped // for the cleanup
	if stopped != exitOK {
		t.Fatalf("the leader's clean stop: exit %d", stopped)
	}
	b.await(t, `"msg":"leading: the engine runs"`)
	addKey(t, b.config, "mail3")
	if code, out, errs := runCLI(t, "reload", "--config", b.config); code != exitOK || !strings.Contains(out, "added [mail3]") {
		t.Fatalf("reload on the leader: exit %d\n%s%s", code, out, errs)
	}
	for _, k := range []string{"mail", "mail2", "mail3"} {
		if code, out, errs := runCLI(t, "rotate", k, "--config", b.config); code != exitOK || !strings.Contains(out, k+": rotated") {
			t.Errorf("rotate %s through the new leader: exit %d\n%s%s", k, code, out, errs)
		}
	}
}

// addKey appends a key like mail (same provider and sink) to the policy.
func addKey(t *testing.T, config, name string) {
	t.Helper()
	f, err := os.OpenFile(config, os.O_APPEND|os.O_WRONLY, 0)
	must(t, err)
	defer f.Close()
	_, err = fmt.Fprintf(f, "  - name: %s\n    provider: smtpd\n    params: {role: send_only}\n    sinks: [{sink: out, path: %s.env}]\n", name, name)
	must(t, err)
}

// awaitHooksReleased waits until no superseded key of key awaits a hook
// in the shared state: the hook's success reached the tenure's engine.
func awaitHooksReleased(t *testing.T, dsn, section, key string) {
	t.Helper()
	schema := regexp.MustCompile(`schema: (\S+),`).FindStringSubmatch(section)[1]
	st, err := pgstore.Open(context.Background(), pgstore.Options{DSN: dsn, Schema: schema, ReadOnly: true})
	must(t, err)
	defer st.Close()
	deadline := time.Now().Add(15 * time.Second)
	for {
		k, err := st.Get(key)
		must(t, err)
		waiting := len(k.Retiring) == 0
		for _, rt := range k.Retiring {
			waiting = waiting || len(rt.AwaitingHooks) > 0
		}
		if !waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the hook's success was never recorded: %+v", key, k.Retiring)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
