package rotate

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/state"
)

// nameSuffixRE matches what ProviderKeyName appends after <prefix><key>-.
var nameSuffixRE = regexp.MustCompile(`^\d{8}T\d{6}Z-[a-z0-9]{6}$`)

// ownerOf returns the managed key (of this provider) a provider-side name
// belongs to, or nil. Names are matched exactly, so that key "smtpd" does
// not claim the keys of "smtpd-send".
func (e *Engine) ownerOf(provider, name string) *keyRunner {
	for _, r := range e.runners() {
		k := r.managed().Policy
		if k.Provider != provider {
			continue
		}
		rest, ok := strings.CutPrefix(name, k.NamePrefix+k.Name+"-")
		if ok && nameSuffixRE.MatchString(rest) {
			return r
		}
	}
	return nil
}

// ScanOrphans lists the provider's keys, within a deadline, and judges
// each active key named like one of its managed keys that the state does
// not track (DecideOrphan): a key a sink holds is adopted as current; a key
// of a create with no definite answer, or (with prune_orphans) an old
// enough orphan, is revoked through the sink guard; the rest are counted
// and logged. It returns the number of orphans left.
func (e *Engine) ScanOrphans(ctx context.Context, provider string) (int, error) {
	p := e.provider(provider)
	if p == nil {
		return 0, fmt.Errorf("unknown provider %q", provider)
	}
	prefixes := map[string]bool{}
	timeout := 2 * time.Minute
	for _, r := range e.runners() {
		if k := r.managed().Policy; k.Provider == provider {
			prefixes[k.NamePrefix] = true
			timeout = max(timeout, k.Timeout)
		}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("orphan scan timeout (%s) reached", timeout))
	defer cancel()
	var listed []providers.KeyInfo
	for prefix := range prefixes {
		got, err := p.List(ctx, prefix)
		if err != nil {
			return 0, fmt.Errorf("scan %s for orphans: %w", provider, err)
		}
		listed = append(listed, got...)
	}
	orphans := 0
	var errs []error
	for _, info := range listed {
		if !info.Active {
			continue
		}
		r := e.ownerOf(provider, info.Name)
		if r == nil {
			continue
		}
		left, err := e.judgeOrphan(ctx, r, provider, info)
		if left {
			orphans++
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	e.m.orphaned.WithLabelValues(provider).Set(float64(orphans))
	return orphans, errors.Join(errs...)
}

// judgeOrphan reads the key's sinks and acts on DecideOrphan's verdict,
// under the key's lock and from its state as it is now. left says whether
// the key is still an orphan afterwards.
func (e *Engine) judgeOrphan(ctx context.Context, r *keyRunner, provider string, info providers.KeyInfo) (left bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := e.o.Store.Get(r.k.Policy.Name)
	if err != nil {
		return false, err
	}
	now := e.clock.Now()
	r.actor, r.reason, r.note = ActorSchedule, "orphan_scan", ""
	if DecideOrphan(r.k.Policy, st, info, "", false, now) == OrphanKnown {
		return false, nil
	}
	holder, rerr := e.sinkHolding(ctx, r, info.ID, "")
	log := r.log.With(zap.String("orphan_key_id", info.ID), zap.String("orphan_key_name", info.Name))
	switch DecideOrphan(r.k.Policy, st, info, holder, rerr != nil, now) {
	case OrphanAdopt:
		return false, e.adopt(r, &st, provider, info, holder)
	case OrphanRevoke:
		rv := revocation{Provider: provider, ID: info.ID, Name: info.Name, Done: "orphaned key found and revoked"}
		if err := e.revokeGuarded(ctx, r, rv); err != nil {
			log.Error("orphaned key found; revoking it failed", zap.Error(err))
			return true, nil
		}
		st.Watch = slices.DeleteFunc(st.Watch, func(w state.Watched) bool { return w.Name == info.Name })
		return false, e.put(&st)
	}
	if rerr != nil {
		log.Warn("orphaned key found; not every sink could be read, so it is left alone", zap.Error(rerr))
		return true, nil
	}
	log.Warn("orphaned key found: it carries this key's name but rotator does not track it and no sink holds it; set prune_orphans: true to revoke such keys")
	return true, nil
}

// adopt makes a key that a sink hands out, but the state does not know,
// the current key (a state restored from an older backup, or rebuilt):
// what consumers are given is the truth. The previous current key goes
// into its grace period, and is revoked later only through the guard.
func (e *Engine) adopt(r *keyRunner, st *state.Key, provider string, info providers.KeyInfo, holder string) error {
	now := e.clock.Now()
	created := info.CreatedAt
	if created.IsZero() {
		created = now
	}
	prev := st.Current
	if prev != nil {
		st.Retiring = append(st.Retiring, state.Retiring{ProviderKey: *prev, RevokeAfter: now.Add(r.k.Policy.Grace), SupersededAt: now})
	}
	st.Current = &state.ProviderKey{Provider: provider, ID: info.ID, Name: info.Name, CreatedAt: created}
	st.Emergency = ""
	fields := []zap.Field{zap.String("key_id", info.ID), zap.String("key_name", info.Name), zap.String("held_by", holder)}
	if prev != nil {
		fields = append(fields, zap.String("previous_key_id", prev.ID))
	}
	e.record(r, "adopted", nil, state.Event{KeyID: info.ID, OldKeyIDs: currentIDs(&state.Key{Current: prev})})
	r.log.Error("adopted a key that a sink hands out but the state did not track (a restored or rebuilt state file?); it is now the current key", fields...)
	return e.put(st)
}
