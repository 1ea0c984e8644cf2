package wire

import (
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/providertest"
)

// Build makes the hooks runner, with its metrics on the registry it is
// given.
func TestBuildHooks(t *testing.T) {
	yml := strings.Replace(policy, "keys:\n", "hooks:\n  restart: {type: exec, command: /bin/true}\nkeys:\n", 1) +
		"    hooks: [{hook: restart, on: [converged], block_revocation: true}]\n"
	cfg, err := config.Load(strings.NewReader(yml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	b, err := Build(cfg, Deps{Logger: zap.NewNop(), Clock: clockwork.NewFakeClock(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if b.Hooks == nil || b.Hooks.Len() != 1 {
		t.Fatalf("hooks runner %+v", b.Hooks)
	}
	if n, err := testutil.GatherAndCount(reg, "rotator_hook_runs_total"); err != nil || n != 12 {
		t.Errorf("rotator_hook_runs_total series: %d, %v; want 4 events x 3 results", n, err)
	}
	if got := b.Keys[1].Policy.BlockingHooks(); len(got) != 1 || got[0] != "restart" {
		t.Errorf("blocking hooks of mail: %v", got)
	}
}

// revoke_when: unused with both seed providers builds (quiet: 5s is valid
// for both); with a provider that does not report use, or a quiet below
// the provider's resolution, it does not.
func TestUnusedNeedsAUsageReporter(t *testing.T) {
	yml := strings.Replace(policy, "sinks:\n  out:", "defaults: {revoke_when: unused, quiet: 5s}\nsinks:\n  out:", 1)
	if _, err := build(t, yml); err != nil {
		t.Fatal(err)
	}
	key := config.Key{Name: "k", Provider: "legacy", Path: "keys[3]", Line: 40,
		Revocation: config.Revocation{When: config.RevokeWhenUnused, Quiet: 5 * time.Second}}
	fake := &providertest.Provider{UsageResolutionFunc: func() time.Duration { return time.Minute }}
	for _, tc := range []struct {
		p    providers.Provider
		want string
	}{
		{struct{ providers.Provider }{fake}, "keys[3].revoke_when (line 40): unused needs a provider that reports when a key was last used; legacy (fake) does not"},
		{fake, "keys[3].quiet (line 40): 5s is shorter than the resolution of fake's last-use report (1m0s)"},
	} {
		if err := checkUsage(key, tc.p); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
	key.Revocation.Quiet = time.Minute
	if err := checkUsage(key, fake); err != nil {
		t.Errorf("quiet equal to the resolution: %v", err)
	}
	key.Revocation.When = config.RevokeAfterGrace
	if err := checkUsage(key, struct{ providers.Provider }{fake}); err != nil {
		t.Errorf("revoke_when: grace needs no usage report: %v", err)
	}
}
