package rotate

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/providers"
)

// nameSuffixRE matches what ProviderKeyName appends after <prefix><key>-.
var nameSuffixRE = regexp.MustCompile(`^\d{8}T\d{6}Z-[a-z0-9]{6}$`)

// ownerOf returns the managed key (of this provider) a provider-side name
// belongs to, or nil. Names are matched exactly, so that key "smtpd" does
// not claim the keys of "smtpd-send".
func (e *Engine) ownerOf(provider, name string) *keyRunner {
	for _, kn := range e.order {
		r := e.keys[kn]
		k := r.k.Policy
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

// ScanOrphans lists the provider's keys and counts those named like one of
// its managed keys that the state does not know: not current, not in
// flight, not waiting for revocation. Orphans of keys that set
// prune_orphans are revoked. It returns the number of orphans left.
func (e *Engine) ScanOrphans(ctx context.Context, provider string) (int, error) {
	p := e.o.Providers[provider]
	if p == nil {
		return 0, fmt.Errorf("unknown provider %q", provider)
	}
	prefixes := map[string]bool{}
	for _, kn := range e.order {
		if k := e.keys[kn].k.Policy; k.Provider == provider {
			prefixes[k.NamePrefix] = true
		}
	}
	var listed []providers.KeyInfo
	for prefix := range prefixes {
		got, err := p.List(ctx, prefix)
		if err != nil {
			return 0, fmt.Errorf("scan %s for orphans: %w", provider, err)
		}
		listed = append(listed, got...)
	}
	orphans := 0
	for _, info := range listed {
		if !info.Active {
			continue
		}
		r := e.ownerOf(provider, info.Name)
		if r == nil {
			continue
		}
		known, prune, err := e.knownKey(r, info)
		if err != nil {
			return orphans, err
		}
		if known {
			continue
		}
		log := r.log.With(zap.String("orphan_key_id", info.ID), zap.String("orphan_key_name", info.Name))
		if prune {
			if err := p.Revoke(ctx, info.ID); err != nil {
				log.Error("orphaned key found; revoking it failed", zap.Error(err))
				orphans++
				continue
			}
			log.Warn("orphaned key found and revoked (prune_orphans)")
			continue
		}
		log.Warn("orphaned key found: it carries this key's name but rotator does not track it; set prune_orphans: true to revoke such keys")
		orphans++
	}
	e.m.orphaned.WithLabelValues(provider).Set(float64(orphans))
	return orphans, nil
}

// knownKey tells, under the key's lock and from the state as it is now,
// whether the provider key is tracked.
func (e *Engine) knownKey(r *keyRunner, info providers.KeyInfo) (known, prune bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, err := e.o.Store.Get(r.k.Policy.Name)
	if err != nil {
		return false, false, err
	}
	if st.Current != nil && st.Current.ID == info.ID {
		return true, false, nil
	}
	if st.Rotation != nil && (st.Rotation.KeyID == info.ID || st.Rotation.KeyName == info.Name) {
		return true, false, nil
	}
	for _, rt := range st.Retiring {
		if rt.ID == info.ID {
			return true, false, nil
		}
	}
	return false, r.k.Policy.PruneOrphans, nil
}
