package vault

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Check implements sinks.Checker: it logs in, looks the token up, checks
// that the mount is a KV engine of the configured version, and asks
// sys/capabilities-self whether the token may do what Write and Read do on
// every bound path: read, create and update on the data path, and for KV v2
// patch on the metadata path (custom_metadata).
func (s *Sink) Check(ctx context.Context) error {
	if err := s.do(ctx, func(ctx context.Context) error {
		_, err := s.client.Auth().Token().LookupSelfWithContext(ctx)
		return describe(err)
	}); err != nil {
		return fmt.Errorf("vault sink %s: token lookup: %w", s.cfg.Address, err)
	}
	if err := s.checkMount(ctx); err != nil {
		return fmt.Errorf("vault sink %s: %w", s.cfg.Address, err)
	}
	s.mu.Lock()
	targets := slices.Clone(s.targets)
	where := maps.Clone(s.bound)
	s.mu.Unlock()
	var errs []error
	for _, t := range targets {
		need := map[string][]string{s.dataPath(t.path): {"read", "create", "update"}}
		if s.cfg.KVVersion == 2 {
			need[s.metadataPath(t.path)] = []string{"patch"}
		}
		for _, p := range slices.Sorted(maps.Keys(need)) {
			var caps []string
			err := s.do(ctx, func(ctx context.Context) error {
				var err error
				caps, err = s.client.Sys().CapabilitiesSelfWithContext(ctx, p)
				return describe(err)
			})
			if err != nil {
				return fmt.Errorf("vault sink %s: capabilities of %s: %w", s.cfg.Address, p, err)
			}
			if missing := missingCaps(caps, need[p]); len(missing) > 0 {
				errs = append(errs, fmt.Errorf("%s (%s): the token lacks the %s capability on %s (has: %s)",
					t, where[t.path], strings.Join(missing, ", "), p, strings.Join(caps, ", ")))
			}
		}
	}
	return errors.Join(errs...)
}

// checkMount reads sys/internal/ui/mounts/<mount>, which any token with
// access to a path under the mount may read (the vault CLI uses it to tell
// KV versions apart). Sys().GetMount would read sys/mounts/<mount>, which
// needs a policy on sys/ that a rotation token should not have.
func (s *Sink) checkMount(ctx context.Context) error {
	var typ, version string
	err := s.do(ctx, func(ctx context.Context) error {
		sec, err := s.client.Logical().ReadWithContext(ctx, "sys/internal/ui/mounts/"+s.cfg.Mount)
		if err != nil {
			return describe(err)
		}
		if sec == nil || sec.Data == nil {
			return errors.New("not found")
		}
		typ, _ = sec.Data["type"].(string)
		if opts, ok := sec.Data["options"].(map[string]any); ok {
			version, _ = opts["version"].(string)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mount %s/: %w", s.cfg.Mount, err)
	}
	if typ != "kv" && typ != "generic" {
		return fmt.Errorf("mount %s/ is a %q secrets engine, not kv", s.cfg.Mount, typ)
	}
	if version == "" {
		version = "1"
	}
	if version != fmt.Sprint(s.cfg.KVVersion) {
		return fmt.Errorf("mount %s/ is KV version %s but kv_version is %d", s.cfg.Mount, version, s.cfg.KVVersion)
	}
	return nil
}

func missingCaps(have, need []string) []string {
	if slices.Contains(have, "root") {
		return nil
	}
	var missing []string
	for _, c := range need {
		if !slices.Contains(have, c) {
			missing = append(missing, c)
		}
	}
	return missing
}
