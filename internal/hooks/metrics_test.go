package hooks

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rotator-dev/rotator/internal/config"
)

// A Runner built without a registry serves its series as a collector.
func TestRunnerIsACollector(t *testing.T) {
	r, err := New(Options{Hooks: []config.Hook{execHook("restart", "/bin/true")}})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(r)
	if n, err := testutil.GatherAndCount(reg, "rotator_hook_runs_total", "rotator_hook_duration_seconds"); err != nil || n != 13 {
		t.Errorf("%d series, %v; want 12 runs and 1 duration", n, err)
	}
}
