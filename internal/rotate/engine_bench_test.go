package rotate

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/providertest"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
	"github.com/rotator-dev/rotator/internal/state"
)

// BenchmarkSchedulerAtNext moves one job to now and takes it, among
// 10,000 jobs due in the future: what the daemon loop pays per wake-up.
func BenchmarkSchedulerAtNext(b *testing.B) {
	clock := clockwork.NewFakeClockAt(t0)
	s := newScheduler(clock)
	for i := 0; i < 10000; i++ {
		s.at(fmt.Sprintf("key/k%05d", i), t0.Add(time.Duration(i+1)*time.Minute))
	}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		job := fmt.Sprintf("key/k%05d", i%10000)
		s.at(job, t0)
		if got, ok := s.next(ctx); !ok || got != job {
			b.Fatalf("next = %q, want %q", got, job)
		}
		s.at(job, t0.Add(time.Duration(i%10000+1)*time.Minute))
		i++
	}
}

// BenchmarkEvaluateIdleKey evaluates a key with nothing due (rotated and
// kept alive an hour ago), among 10,000 keys: what the daemon's start-up
// evaluation pays per key.
func BenchmarkEvaluateIdleKey(b *testing.B) {
	clock := clockwork.NewFakeClockAt(t0)
	sched, err := config.ParseSchedule("@every 720h")
	if err != nil {
		b.Fatal(err)
	}
	prov := providertest.NewMemory(clock.Now)
	store, err := state.Open(filepath.Join(b.TempDir(), "state.db"), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	const n = 10000
	var keys []*Managed
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("k%05d", i)
		keys = append(keys, &Managed{Provider: &prov.Provider, Policy: config.Key{Name: name, Provider: "mem", ScheduleSpec: "@every 720h",
			Schedule: sched, Grace: time.Hour, KeepAlive: 168 * time.Hour, Timeout: time.Minute, NamePrefix: "rotator-"},
			Targets: []BoundTarget{{Sink: "mem", Target: sinktest.NewMemoryTarget(name)}}})
		at := t0.Add(-time.Hour)
		if err := store.Put(state.Key{Name: name, Current: &state.ProviderKey{Provider: "mem", ID: "id-" + name, Name: "rotator-" + name, CreatedAt: at},
			LastSuccessAt: at, LastKeepAliveAt: at}); err != nil {
			b.Fatal(err)
		}
	}
	e, err := New(Options{Keys: keys, Providers: map[string]providers.Provider{"mem": &prov.Provider}, Store: store,
		Logger: zap.NewNop(), Metrics: NewMetrics(prometheus.NewRegistry()), Clock: clock})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	i := 0
	for b.Loop() {
		out, err := e.Evaluate(ctx, keys[i%n].Policy.Name, Mode{})
		if err != nil || out.Rotated || out.KeptAlive {
			b.Fatalf("evaluate: %+v %v", out, err)
		}
		i++
	}
	if calls := prov.Calls("create") + prov.Calls("test"); calls != 0 {
		b.Fatalf("an idle evaluation called the provider %d times", calls)
	}
}
