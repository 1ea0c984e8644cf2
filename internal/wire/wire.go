// Package wire turns a loaded configuration into live backends: one
// explicit switch per kind, each backend decoding its own section, every
// error collected with errors.Join. It makes no network call, so that
// --check-config can use it.
package wire

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/backend"
	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/hooks"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/emailit"
	"github.com/rotator-dev/rotator/internal/providers/smtpd"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awssm"
	"github.com/rotator-dev/rotator/internal/sinks/awsssm"
	"github.com/rotator-dev/rotator/internal/sinks/file"
	"github.com/rotator-dev/rotator/internal/sinks/vault"
)

// Deps are handed to every backend.
type Deps struct {
	Logger    *zap.Logger
	Clock     clockwork.Clock
	UserAgent string
	// Observer records provider requests (the engine's Metrics); may be nil.
	Observer providers.RequestObserver
	// Registerer receives the hooks' metrics; nil: they are registered
	// nowhere.
	Registerer prometheus.Registerer
}

// Built is the wired configuration.
type Built struct {
	Providers map[string]providers.Provider
	Sinks     map[string]sinks.Sink
	Keys      []*rotate.Managed
	// Hooks runs the keys' hooks: the engine's Notifier. Start it with
	// Engine.HookSucceeded once the engine exists; Close it on the way out.
	Hooks *hooks.Runner
	// Warnings are what works but should be fixed (a secret file other
	// users can read); Build also logs each one.
	Warnings []config.Warning
}

// ProviderTypes and SinkTypes are the kinds this build knows.
var (
	ProviderTypes = []string{"emailit", "smtpd"}
	SinkTypes     = []string{"aws-secretsmanager", "aws-ssm", "file", "vault"}
)

// Build wires every provider, sink and key. It does not change cfg, and
// what it returns keeps none of cfg's YAML sections: each key's policy is
// copied without its target sections (the engine works from the bound
// targets), and the hooks runner gets only the keys' hooks: references.
func Build(cfg *config.Config, d Deps) (*Built, error) {
	b := &Built{Providers: map[string]providers.Provider{}, Sinks: map[string]sinks.Sink{}}
	var errs []error
	rates := map[string]float64{} // provider → requests per second
	for _, sec := range cfg.Providers {
		name := strings.TrimPrefix(sec.Path, "providers.")
		p, rate, err := buildProvider(sec, providers.Deps{Deps: backend.Deps{Name: name, Logger: d.Logger.With(zap.String("provider", name)),
			Clock: d.Clock, UserAgent: d.UserAgent}, Observer: d.Observer})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.Providers[name] = p
		rates[name] = rate
	}
	for _, sec := range cfg.Sinks {
		name := strings.TrimPrefix(sec.Path, "sinks.")
		s, err := buildSink(sec, sinks.Deps{Name: name, Logger: d.Logger.With(zap.String("sink", name)),
			Clock: d.Clock, UserAgent: d.UserAgent})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		b.Sinks[name] = s
	}
	written := map[string]string{} // target description → key path
	idle := config.NewKeyWarnings(cfg.Warnings, "keep-alive off or not shorter than the provider's idle limit")
	for _, k := range cfg.Keys {
		m, err := buildKey(k, b, written)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		checkKeepAlive(k, m.Provider, idle)
		b.Keys = append(b.Keys, m)
	}
	idle.Close()
	if len(errs) == 0 {
		checkBudgets(cfg, b, rates)
	}
	if len(errs) == 0 {
		h, err := hooks.New(hooks.Options{Hooks: cfg.Hooks, Keys: hookRefs(cfg.Keys), Logger: d.Logger.With(zap.String("component", "hooks")),
			Clock: d.Clock, Registerer: d.Registerer, UserAgent: d.UserAgent, DrainTimeout: cfg.ShutdownTimeout})
		errs = append(errs, err)
		b.Hooks = h
	}
	b.Warnings = cfg.Warnings.List()
	for _, w := range b.Warnings {
		d.Logger.Warn("configuration warning", zap.String("path", w.Path), zap.Int("line", w.Line), zap.String("warning", w.Msg))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return b, nil
}

// hookRefs is what the hooks runner keeps of the keys, for as long as it
// runs: the name and hooks: references of each key that has any.
func hookRefs(keys []config.Key) []config.Key {
	var refs []config.Key
	for _, k := range keys {
		if len(k.Hooks) > 0 {
			refs = append(refs, config.Key{Name: k.Name, Hooks: k.Hooks})
		}
	}
	return refs
}

// buildProvider also returns the requests per second the provider allows
// (rate_limit or its default).
func buildProvider(sec config.Section, d providers.Deps) (providers.Provider, float64, error) {
	switch sec.Type {
	case "smtpd":
		c, err := smtpd.ParseConfig(sec)
		if err != nil {
			return nil, 0, err
		}
		p, err := smtpd.New(c, d)
		return p, cmp.Or(c.RateLimit, smtpd.DefaultRateLimit), err
	case "emailit":
		c, err := emailit.ParseConfig(sec)
		if err != nil {
			return nil, 0, err
		}
		p, err := emailit.New(c, d)
		return p, cmp.Or(c.RateLimit, emailit.DefaultRateLimit), err
	}
	return nil, 0, sec.Errorf("type", "unknown provider type %q (known: %s)", sec.Type, strings.Join(ProviderTypes, ", "))
}

func buildSink(sec config.Section, d sinks.Deps) (sinks.Sink, error) {
	switch sec.Type {
	case "file":
		c, err := file.ParseConfig(sec)
		if err != nil {
			return nil, err
		}
		return file.New(c, d)
	case "vault":
		c, err := vault.ParseConfig(sec)
		if err != nil {
			return nil, err
		}
		return vault.New(c, d)
	case awssm.Type:
		c, err := awssm.ParseConfig(sec)
		if err != nil {
			return nil, err
		}
		return awssm.New(c, d)
	case awsssm.Type:
		c, err := awsssm.ParseConfig(sec)
		if err != nil {
			return nil, err
		}
		return awsssm.New(c, d)
	}
	return nil, sec.Errorf("type", "unknown sink type %q (known: %s)", sec.Type, strings.Join(SinkTypes, ", "))
}

func buildKey(k config.Key, b *Built, written map[string]string) (*rotate.Managed, error) {
	sec := config.Section{Path: k.Path}
	p := b.Providers[k.Provider]
	if p == nil {
		return nil, sec.Errorf("provider", "provider %q could not be built", k.Provider)
	}
	var errs []error
	if err := p.ValidateParams(k.Params); err != nil {
		errs = append(errs, &config.FieldError{Path: k.Path + ".params", Line: k.Line, Err: err})
	}
	errs = append(errs, checkUsage(k, p), checkScope(k, p))
	pol := k
	pol.Targets = nil // bound below; the sections' YAML stays with cfg
	m := &rotate.Managed{Policy: pol, Provider: p}
	for j, t := range k.Targets {
		s := b.Sinks[t.Sink]
		if s == nil {
			errs = append(errs, t.Section.Errorf("sink", "sink %q could not be built", t.Sink))
			continue
		}
		if err := checkRenames(t, p); err != nil {
			errs = append(errs, err)
			continue
		}
		target, err := s.Bind(t.Section)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		desc := target.String()
		if prev, ok := written[desc]; ok {
			errs = append(errs, &config.FieldError{Path: fmt.Sprintf("%s.sinks[%d]", k.Path, j), Line: t.Section.Node.Line,
				Err: fmt.Errorf("%s is already written by %s: two keys cannot share a target", desc, prev)})
			continue
		}
		written[desc] = fmt.Sprintf("%s.sinks[%d]", k.Path, j)
		m.Targets = append(m.Targets, rotate.BoundTarget{Sink: t.Sink, Target: target, Fields: t.Fields, Spec: targetSpec(t)})
	}
	return m, errors.Join(errs...)
}

// checkRenames rejects a `fields` rename of a field the provider does not
// produce (a typo would otherwise silently do nothing), and a rename onto
// the name of another produced field that keeps its own name: both values
// would be written under one name and map order would choose which one
// the sink gets. Swapping two fields ({key: key_id, key_id: key}) is
// allowed. (config rejects two fields renamed to the same name.)
func checkRenames(t config.Target, p providers.Provider) error {
	known, ptype := p.CredentialFields(), p.Type()
	if len(known) == 0 || len(t.Fields) == 0 {
		return nil
	}
	all := append([]string{rotate.FieldKeyID, rotate.FieldKeyName, rotate.FieldCreatedAt}, known...)
	sort.Strings(all)
	froms := make([]string, 0, len(t.Fields))
	for from := range t.Fields {
		froms = append(froms, from)
	}
	sort.Strings(froms)
	for _, from := range froms {
		if !slices.Contains(all, from) {
			return t.Section.Errorf("fields", "%q is not a field of a %s key (fields: %s)", from, ptype, strings.Join(all, ", "))
		}
	}
	for _, from := range froms {
		to := t.Fields[from]
		if to == from || !slices.Contains(all, to) {
			continue
		}
		if _, renamed := t.Fields[to]; !renamed {
			return t.Section.Errorf("fields", "%s is renamed to %s, which is the name of another field of a %s key: rename %s too (such as %s: %s_2), or choose another name",
				from, to, ptype, to, to, to)
		}
	}
	return nil
}

// checkUsage wants revoke_when: unused only with a provider that reports
// when a key was last used, and a quiet no shorter than the resolution of
// that report.
func checkUsage(k config.Key, p providers.Provider) error {
	if !k.Revocation.Unused() {
		return nil
	}
	ur, ok := p.(providers.UsageReporter)
	if !ok {
		return &config.FieldError{Path: k.Path + ".revoke_when", Line: k.Line,
			Err: fmt.Errorf("unused needs a provider that reports when a key was last used; %s (%s) does not: use revoke_when: grace", k.Provider, p.Type())}
	}
	if res := ur.UsageResolution(); k.Revocation.Quiet < res {
		return &config.FieldError{Path: k.Path + ".quiet", Line: k.Line,
			Err: fmt.Errorf("%s is shorter than the resolution of %s's last-use report (%s): a use could go unseen", k.Revocation.Quiet, p.Type(), res)}
	}
	return nil
}
