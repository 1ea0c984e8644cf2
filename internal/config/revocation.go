package config

import (
	"errors"
	"time"
)

// When a superseded key is revoked (revoke_when).
const (
	// RevokeAfterGrace revokes once the grace period is over.
	RevokeAfterGrace = "grace"
	// RevokeWhenUnused revokes once the grace period is over and the
	// provider reports no use of the key for `quiet`.
	RevokeWhenUnused = "unused"
)

// What happens at max_grace to a key still in use (on_max_grace).
const (
	OnMaxGraceRevoke = "revoke"
	OnMaxGraceKeep   = "keep"
)

// Defaults of the revocation policy.
const (
	DefaultQuiet    = time.Hour
	DefaultMaxGrace = 168 * time.Hour
)

// Revocation is a key's revocation policy.
type Revocation struct {
	// When is RevokeAfterGrace or RevokeWhenUnused.
	When string
	// Quiet is how long the provider must report no use of a superseded
	// key, after every sink held the new one, before it is revoked.
	Quiet time.Duration
	// MaxGrace bounds the wait for a key still in use; OnMaxGrace says
	// whether it is then revoked anyway or kept (and alerted on).
	MaxGrace   time.Duration
	OnMaxGrace string
}

// Unused reports whether revocation waits for the key to go unused.
func (r Revocation) Unused() bool { return r.When == RevokeWhenUnused }

type rawRevocation struct {
	RevokeWhen *string   `yaml:"revoke_when"`
	Quiet      *Duration `yaml:"quiet"`
	MaxGrace   *Duration `yaml:"max_grace"`
	OnMaxGrace *string   `yaml:"on_max_grace"`
}

func defaultRevocation() Revocation {
	return Revocation{When: RevokeAfterGrace, Quiet: DefaultQuiet, MaxGrace: DefaultMaxGrace, OnMaxGrace: OnMaxGraceRevoke}
}

func (r *Revocation) apply(raw rawRevocation, sec Section) error {
	var errs []error
	if raw.RevokeWhen != nil {
		r.When = *raw.RevokeWhen
		if r.When != RevokeAfterGrace && r.When != RevokeWhenUnused {
			errs = append(errs, sec.Errorf("revoke_when", "%q: want grace or unused", r.When))
		}
	}
	if raw.Quiet != nil {
		if r.Quiet = raw.Quiet.D(); r.Quiet < time.Second {
			errs = append(errs, sec.Errorf("quiet", "must be at least 1s"))
		}
	}
	if raw.MaxGrace != nil {
		if r.MaxGrace = raw.MaxGrace.D(); r.MaxGrace <= 0 {
			errs = append(errs, sec.Errorf("max_grace", "must be positive"))
		}
	}
	if raw.OnMaxGrace != nil {
		r.OnMaxGrace = *raw.OnMaxGrace
		if r.OnMaxGrace != OnMaxGraceRevoke && r.OnMaxGrace != OnMaxGraceKeep {
			errs = append(errs, sec.Errorf("on_max_grace", "%q: want revoke or keep", r.OnMaxGrace))
		}
	}
	return errors.Join(errs...)
}

// checkRevocation checks what can only be checked on the resolved key.
func checkRevocation(k Key, sec Section) error {
	if k.Revocation.Unused() && k.Revocation.MaxGrace < k.Grace {
		return sec.Errorf("max_grace", "%s is shorter than grace (%s): a key in use would be revoked before its grace ends", k.Revocation.MaxGrace, k.Grace)
	}
	return nil
}
