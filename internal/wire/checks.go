package wire

import (
	"fmt"
	"strings"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
)

// requestCost is how many requests a provider makes for one keep-alive
// of one key and for one rotation (create, verify, and the revocation it
// later leads to). These are lower bounds read from the providers' code:
// the management token cached, no retry, no 429, one page per list. A
// budget they exceed is exceeded for sure.
type requestCost struct{ keepAlive, rotation int }

var requestCosts = map[string]requestCost{
	// Test: login with the key, GET /oauth/me, GET the key. Rotation:
	// create, Verify's login with the new key, revoke.
	"smtpd": {keepAlive: 3, rotation: 3},
	// Test: a read with the key, GET the key. Rotation: create, Verify's
	// read, delete.
	"emailit": {keepAlive: 2, rotation: 3},
}

// demand is the estimated requests per hour at one provider.
type demand struct{ keepAlive, rotation, scans float64 }

func (d demand) total() float64 { return d.keepAlive + d.rotation + d.scans }

// checkBudgets warns about a provider whose rate_limit cannot sustain its
// keys' keep-alive and rotation schedules, and the orphan scans: per hour,
// each key's current key is kept alive 3600/keepalive times and rotated
// 3600/(mean time between rotations) times (paused keys are not), each
// at requestCosts; each distinct name_prefix is listed once per
// orphan_scan_interval. Keys in grace, retries and revoke_when: unused's
// reads come on top, so the warning is conservative.
// rates holds each provider's requests per second.
func checkBudgets(cfg *config.Config, b *Built, rates map[string]float64) {
	per := map[string]*demand{}
	prefixes := map[string]map[string]bool{}
	for _, k := range cfg.Keys {
		p := b.Providers[k.Provider]
		cost, ok := requestCosts[p.Type()]
		if !ok {
			continue
		}
		d := per[k.Provider]
		if d == nil {
			d, prefixes[k.Provider] = &demand{}, map[string]bool{}
			per[k.Provider] = d
		}
		if k.KeepAlive > 0 {
			d.keepAlive += float64(time.Hour) / float64(k.KeepAlive) * float64(cost.keepAlive)
		}
		if iv := config.IntervalOf(k.Schedule); iv.Mean > 0 && !k.Paused {
			d.rotation += float64(time.Hour) / float64(iv.Mean) * float64(cost.rotation)
		}
		if !prefixes[k.Provider][k.NamePrefix] {
			prefixes[k.Provider][k.NamePrefix] = true
			d.scans += float64(time.Hour) / float64(cfg.OrphanScanInterval)
		}
	}
	for _, sec := range cfg.Providers {
		name := strings.TrimPrefix(sec.Path, "providers.")
		d, rate := per[name], rates[name]
		if d == nil || rate <= 0 {
			continue
		}
		if budget := rate * 3600; d.total() > budget {
			sec.Warnf("rate_limit", "%s/s allows %.0f requests an hour, but the keys of %s need at least %.0f (keep-alive %.0f, rotations %.0f, orphan scans %.0f): %.1f times the budget, so work falls behind; raise rate_limit if %s allows it, or lengthen keepalive or the schedules",
				fmtRate(rate), budget, name, d.total(), d.keepAlive, d.rotation, d.scans, d.total()/budget, sec.Type)
		}
	}
}

func fmtRate(r float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", r), "0"), ".")
}

// checkKeepAlive warns about a key of a provider that revokes idle keys
// (smtpd.dev: 90 days) whose keep-alive is off or not shorter than that
// limit: a key its consumers do not use for that long (a standby, a
// paused key, a rotation that keeps failing) would be revoked under them.
func checkKeepAlive(k config.Key, p providers.Provider, kw *config.KeyWarnings) {
	ir, ok := p.(providers.IdleRevoker)
	if !ok {
		return
	}
	idle := ir.IdleRevocationAfter()
	var what string
	switch {
	case k.KeepAlive == 0:
		what = fmt.Sprintf("is disabled, but %s revokes a key unused for %s", p.Type(), days(idle))
	case k.KeepAlive >= idle:
		what = fmt.Sprintf("%s is not shorter than the %s after which %s revokes an unused key", k.KeepAlive, days(idle), p.Type())
	default:
		return
	}
	kw.Warn(config.Warning{Path: k.Path + ".keepalive", Line: k.Line, Msg: fmt.Sprintf(
		"%s: a key its consumers do not use that long (a standby, a paused key, a rotation that keeps failing) would be revoked under them; set keepalive below %s, such as %s (the default)",
		what, days(idle), config.DefaultKeepAlive)})
}

func days(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// checkScope requires an Emailit key to say its scope: Emailit's default,
// full, can create and delete API keys, which a key handed to an
// application almost never needs.
func checkScope(k config.Key, p providers.Provider) error {
	if p.Type() != "emailit" {
		return nil
	}
	if _, ok := k.Params["scope"]; ok {
		return nil
	}
	return &config.FieldError{Path: k.Path + ".params.scope", Line: k.Line, Err: fmt.Errorf(
		"is required for an Emailit key: write params: {scope: sending} for a key that sends mail (the usual case); Emailit's default, full, can create and delete API keys, so write scope: full only for a key whose consumer must manage keys")}
}
