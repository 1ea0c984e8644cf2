package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rotator-dev/rotator/internal/control"
	"github.com/rotator-dev/rotator/internal/leader"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/wire"
)

// replicaCtl is what a replica's control API and hooks act through
// (state.backend postgres): the engine of the current leadership tenure,
// swapped at each tenure's start and end, and the running policy a new
// tenure's engine is built with. While this replica follows there is no
// engine: requests that act are refused, naming the leader; status and
// history are read from the shared state.
type replicaCtl struct {
	lease *leader.Lease
	// build makes an engine of the policy over a tenure's store.
	build func(*wire.Built, engineStore) (*rotate.Engine, error)

	mu     sync.Mutex
	policy *wire.Built    // the running policy: a reload replaces it
	engine *rotate.Engine // the current tenure's; nil while following
}

// begin builds the engine of a tenure over its FencedStore with the
// running policy, and makes it the one control requests and hooks reach.
func (r *replicaCtl) begin(fs engineStore) (*rotate.Engine, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, err := r.build(r.policy, fs)
	if err != nil {
		return nil, err
	}
	r.engine = e
	return e, nil
}

// end: the tenure of e is over; requests that act are refused again.
func (r *replicaCtl) end(e *rotate.Engine) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.engine == e {
		r.engine = nil
	}
}

// current is the tenure's engine, nil while following.
func (r *replicaCtl) current() *rotate.Engine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.engine
}

// hookSucceeded is the hooks runner's Succeeded: a block_revocation hook
// that succeeded releases the old key's revocation through the tenure's
// engine. After the tenure it cannot be recorded; the next leader tells
// the hooks again at its start (Engine.Serve), so nothing waits past the
// hook's next success.
func (r *replicaCtl) hookSucceeded(key, newKeyID, hook string) error {
	e := r.current()
	if e == nil {
		return fmt.Errorf("%w: the next leader runs the hook again", leader.ErrNotLeader)
	}
	return e.HookSucceeded(key, newKeyID, hook)
}

// reload makes next the running policy: of the start-up engine (status),
// of the tenure's engine while leading, and of every later tenure's. The
// hooks keep their runner (started once, with its queues) and take next's
// definitions.
func (r *replicaCtl) reload(next *wire.Built, startup *rotate.Engine) (rotate.ReloadResult, error) {
	r.mu.Lock()
	runner := r.policy.Hooks
	if runner != nil && next.Hooks != nil {
		runner.Reload(next.Hooks)
	}
	nb := *next
	nb.Hooks = runner
	r.policy = &nb
	tenure := r.engine
	r.mu.Unlock()
	p := rotate.Policy{Keys: next.Keys, Providers: next.Providers, Sinks: next.Sinks}
	res, err := startup.Reload(p)
	if errors.Is(err, leader.ErrNotLeader) {
		// The start-up engine cannot mark a grown key's targets for a
		// sync: the leader's engine does (below, or on its replica).
		err = nil
	}
	if tenure != nil {
		tres, terr := tenure.Reload(p)
		return tres, errors.Join(err, terr)
	}
	return res, err
}

// readOnly are the commands any replica answers from the shared state
// (reload reloads this replica's own policy file).
var readOnly = map[string]bool{"status": true, "history": true, "reload": true}

// handler routes control requests: status, history and reload as any
// replica does (base), the commands that act to the tenure's engine, or,
// on a follower, refused with where to send them.
func (r *replicaCtl) handler(base *operator) control.Handler {
	return func(ctx context.Context, actor string, req control.Request) control.Response {
		if readOnly[req.Command] {
			return base.do(ctx, actor, req)
		}
		e := r.current()
		if e == nil {
			return control.Response{Stderr: r.refusal(ctx, req.Command), Exit: exitFailed}
		}
		op := *base
		op.engine = e
		return op.do(ctx, actor, req)
	}
}

// refusal says that this replica follows and which replica leads.
func (r *replicaCtl) refusal(ctx context.Context, cmd string) string {
	msg := fmt.Sprintf("rotator: %s: this replica (%s) is a follower: only the leader acts", cmd, r.lease.Holder())
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	holder, err := r.lease.LeaderHolder(rctx)
	switch {
	case err != nil:
		return fmt.Sprintf("%s; cannot read which replica leads: %v\n", msg, err)
	case holder == "":
		return msg + "; no replica leads at the moment (one takes the lease within lease_ttl): run it again in a few seconds\n"
	}
	return fmt.Sprintf("%s; the leader is %s: run the command there (its control.socket, or its control.listen)\n", msg, holder)
}
