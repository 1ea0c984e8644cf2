package rotate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/state"
)

// ErrStillManaged refuses to retire a key the policy still has.
var ErrStillManaged = errors.New("is still in the policy: remove it from the policy (and reload the daemon) first")

// ErrNotInState is returned for a key the state has no record of.
var ErrNotInState = errors.New("no such key in the state")

// RetireResult is what Retire did.
type RetireResult struct {
	// Revoked are the provider keys revoked now; Left those still alive
	// (the error says why).
	Revoked, Left []string
	// Already is set when the key was retired before.
	Already bool
}

// Retire revokes every provider key of a key that is no longer in the
// policy (its current key, its superseded keys, the key of a rotation it
// left in flight), each through the sink guard against the targets of the
// last policy that managed it (state.Key.Targets); once none is left the
// record is marked retired. A key a target still holds stays: the
// operator moves its consumers and deletes the secret there first.
func (e *Engine) Retire(ctx context.Context, name, actor, note string) (RetireResult, error) {
	var res RetireResult
	if e.runner(name) != nil {
		return res, fmt.Errorf("%s %w", name, ErrStillManaged)
	}
	e.retireMu.Lock()
	defer e.retireMu.Unlock()
	st, err := e.o.Store.Get(name)
	if err != nil {
		return res, err
	}
	idle := st.Idle() && len(st.Watch) == 0
	switch {
	case idle && st.Retired != nil:
		res.Already = true
		return res, nil
	case idle && reflect.DeepEqual(st, state.Key{Name: name}):
		return res, fmt.Errorf("%s: %w", name, ErrNotInState)
	}
	r := &keyRunner{k: &Managed{Policy: config.Key{Name: name}}, log: newKeyLog(e.log.WithOptions(zap.AddCallerSkip(2)), name)}
	if !idle { // else it never got a provider key: nothing to revoke
		rr, rerr := e.retiredRunner(st)
		if rerr != nil {
			err = rerr
			res.Left = append(res.Left, allIDs(st)...)
		} else {
			r = rr
		}
	}
	r.actor, r.reason, r.note = actor, "operator", note
	if err == nil && !idle {
		err = e.retireKeys(ctx, r, &st, &res)
	}
	if err == nil && st.Idle() {
		st.Retired = &state.Pause{At: e.clock.Now(), Actor: actor, Reason: note}
		st.Watch = nil
	}
	e.record(r, "retired", err, state.Event{OldKeyIDs: res.Revoked})
	if perr := e.put(&st); perr != nil {
		return res, errors.Join(err, perr)
	}
	if err == nil {
		r.log.Info("key retired: every provider key of it is revoked", zap.String("actor", actor), zap.Strings("revoked_key_ids", res.Revoked))
	}
	return res, err
}

// retireKeys executes DecideRetire: it revokes each provider key of the
// record through the guard and drops the revoked ones from it.
func (e *Engine) retireKeys(ctx context.Context, r *keyRunner, st *state.Key, res *RetireResult) error {
	ctx, cancel := context.WithTimeoutCause(ctx, config.DefaultTimeout, fmt.Errorf("retire timeout (%s) reached", config.DefaultTimeout))
	defer cancel()
	var errs []error
	try := func(rv revocation) bool {
		rv.Done = "provider key of a retired key revoked"
		if rv.Provider == "" {
			rv.Provider = r.k.Policy.Provider
		}
		err := e.revokeGuarded(ctx, r, rv)
		if err != nil {
			res.Left = append(res.Left, rv.ID)
			errs = append(errs, fmt.Errorf("revoke %s: %w", rv.ID, err))
			return false
		}
		res.Revoked = append(res.Revoked, rv.ID)
		return true
	}
	for _, a := range DecideRetire(*st).Actions {
		done := false
		switch a.Kind {
		case ActRevoke:
			done = try(recordRevocation(*st, a.KeyID))
		case ActSweep:
			provider, rotationID := recordName(*st, a.Name)
			ok, err := e.retireNamed(ctx, r, provider, a.Name, rotationID, try)
			if err != nil {
				errs = append(errs, err)
			}
			done = ok
		}
		if done {
			dropFromRecord(st, a)
		}
	}
	return errors.Join(errs...)
}

// recordRevocation is the revocation of the record's provider key id.
func recordRevocation(st state.Key, id string) revocation {
	if rot := st.Rotation; rot != nil && rot.KeyID == id {
		return revocation{Provider: rot.Provider, ID: id, Name: rot.KeyName, RotationID: rot.ID}
	}
	for _, pk := range st.ProviderKeys() {
		if pk.ID == id {
			return revocation{Provider: pk.Provider, ID: id, Name: pk.Name}
		}
	}
	return revocation{ID: id}
}

// recordName is the provider, and the rotation when it is one's, of a
// provider-side name the record looks up.
func recordName(st state.Key, name string) (provider, rotationID string) {
	if rot := st.Rotation; rot != nil && rot.KeyID == "" && rot.KeyName == name {
		return rot.Provider, rot.ID
	}
	for _, w := range st.Watch {
		if w.Name == name {
			return w.Provider, ""
		}
	}
	return "", ""
}

// dropFromRecord removes what a done action accounted for.
func dropFromRecord(st *state.Key, a Action) {
	switch a.Kind {
	case ActRevoke:
		if rot := st.Rotation; rot != nil && rot.KeyID == a.KeyID {
			st.Rotation = nil
		}
		st.Retiring = slices.DeleteFunc(st.Retiring, func(rt state.Retiring) bool { return rt.ID == a.KeyID })
		if st.Current != nil && st.Current.ID == a.KeyID {
			st.Current = nil
		}
	case ActSweep:
		if rot := st.Rotation; rot != nil && rot.KeyID == "" && rot.KeyName == a.Name {
			st.Rotation = nil
		}
		st.Watch = slices.DeleteFunc(st.Watch, func(w state.Watched) bool { return w.Name == a.Name })
	}
}

// retireNamed looks a provider-side name up and revokes the key that has
// it; a name the provider does not have is done.
func (e *Engine) retireNamed(ctx context.Context, r *keyRunner, provider, name, rotationID string, try func(revocation) bool) (bool, error) {
	if provider == "" {
		provider = r.k.Policy.Provider
	}
	p, err := e.providerFor(r, provider)
	if err != nil {
		return false, fmt.Errorf("look up %s: %w", name, err)
	}
	if err := e.mayAct(ctx); err != nil {
		return false, err
	}
	listed, err := p.List(ctx, name)
	if err != nil {
		return false, fmt.Errorf("look up %s: %w", name, err)
	}
	for _, info := range listed {
		if info.Name == name && info.Active {
			return try(revocation{Provider: provider, ID: info.ID, Name: name, RotationID: rotationID}), nil
		}
	}
	return true, nil
}

// retiredRunner is a runner for a key no longer in the policy: its
// provider is the one its keys live at, its targets those recorded.
func (e *Engine) retiredRunner(st state.Key) (*keyRunner, error) {
	provider := ""
	for _, pk := range st.ProviderKeys() {
		if pk.Provider != "" {
			provider = pk.Provider
			break
		}
	}
	p := e.provider(provider)
	if p == nil {
		return nil, fmt.Errorf("provider %q of its keys is not in the policy: add it back to retire the key", provider)
	}
	if len(st.Targets) == 0 {
		return nil, errors.New("the state does not record the sink targets it was written to (it was last run by an older rotator): " +
			"put the key back in the policy until it has been evaluated once, then remove it and retire it")
	}
	var errs []error
	m := &Managed{Policy: config.Key{Name: st.Name, Provider: provider, Timeout: config.DefaultTimeout}, Provider: p}
	for i, ref := range st.Targets {
		t, err := e.bindRecorded(st.Name, i, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.Targets = append(m.Targets, t)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("not revoked, since not every sink target can be read: %w", err)
	}
	return &keyRunner{k: m, log: newKeyLog(e.log.WithOptions(zap.AddCallerSkip(2)), st.Name)}, nil
}

// allIDs names every provider key of the record (by name when the id is
// not known).
func allIDs(st state.Key) []string {
	var out []string
	for _, pk := range st.ProviderKeys() {
		out = append(out, cmp.Or(pk.ID, pk.Name))
	}
	for _, w := range st.Watch {
		out = append(out, w.Name)
	}
	return out
}
