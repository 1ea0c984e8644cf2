package rotate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/providertest"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
	"github.com/rotator-dev/rotator/internal/state"
)

// memStore is an in-memory Store; records are copied through JSON, as the
// bbolt store does, so that no slice is shared with the engine.
type memStore struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) Get(name string) (state.Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := state.Key{Name: name}
	if v, ok := s.m[name]; ok {
		return k, json.Unmarshal(v, &k)
	}
	return k, nil
}

func (s *memStore) Put(k state.Key) error {
	v, err := json.Marshal(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k.Name] = v
	return err
}

// propertySeed is logged, and settable with ROTATOR_TEST_SEED, so that a
// failing case can be replayed.
func propertySeed(t *testing.T) uint64 {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("ROTATOR_TEST_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("ROTATOR_TEST_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (replay with ROTATOR_TEST_SEED=%d)", seed, seed)
	return seed
}

// TestPlanEqualsExecution is the decision core's property (issue 12): for
// random states, times and modes, the actions the dry run prints are
// exactly the actions the engine then executes, in order; the engine makes
// no provider call that no action asked for; and no key that a sink holds
// is ever revoked.
func TestPlanEqualsExecution(t *testing.T) {
	rnd := rand.New(rand.NewPCG(propertySeed(t), 12))
	n := 10000
	if testing.Short() {
		n = 1000
	}
	for i := range n {
		c := newPropertyCase(t, rnd)
		if err := c.check(); err != nil {
			t.Fatalf("case %d: %v\nstate: %+v\nmode: %+v daemon=%v", i, err, c.st, c.once, c.daemon)
		}
	}
}

type propertyCase struct {
	t       *testing.T
	rnd     *rand.Rand
	clock   *clockwork.FakeClock
	prov    *providertest.Memory
	targets []*sinktest.MemoryTarget
	key     config.Key
	st      state.Key
	once    Once
	daemon  bool
	revoked []string
	created int
}

func newPropertyCase(t *testing.T, rnd *rand.Rand) *propertyCase {
	sched, _ := config.ParseSchedule("@every 24h")
	c := &propertyCase{t: t, rnd: rnd, clock: clockwork.NewFakeClockAt(t0),
		targets: []*sinktest.MemoryTarget{sinktest.NewMemoryTarget("a"), sinktest.NewMemoryTarget("b")},
		key: config.Key{Name: "mail", Provider: "mem", ScheduleSpec: "@every 24h", Schedule: sched, Timeout: time.Minute,
			NamePrefix: "rotator-", Grace: pick(rnd, 0, time.Hour), KeepAlive: pick(rnd, 0, 6*time.Hour), Paused: rnd.IntN(10) == 0,
			Revocation: config.Revocation{When: pick(rnd, config.RevokeAfterGrace, config.RevokeWhenUnused),
				Quiet: pick(rnd, time.Minute, 30*time.Minute), MaxGrace: pick(rnd, time.Hour, 3*time.Hour),
				OnMaxGrace: pick(rnd, config.OnMaxGraceRevoke, config.OnMaxGraceKeep)}}}
	c.prov = providertest.NewMemory(c.clock.Now)
	c.randomState()
	switch rnd.IntN(4) {
	case 0:
		c.daemon = true
	case 1:
		c.once = Once{Keys: []string{"other"}}
	case 2:
		c.once = Once{DueOnly: true}
	}
	return c
}

func pick[T any](rnd *rand.Rand, v ...T) T { return v[rnd.IntN(len(v))] }

// around is a random time within d of t0.
func (c *propertyCase) around(d time.Duration) time.Time {
	return t0.Add(time.Duration(c.rnd.Int64N(int64(2*d))) - d)
}

func (c *propertyCase) newKey(held bool) state.ProviderKey {
	k := c.prov.Create(ProviderKeyName("rotator-", "mail", c.around(48*time.Hour)))
	if held {
		s := sinks.Secret{FieldKeyID: k.ID, FieldKeyName: k.Name, FieldCreatedAt: t0.Format(time.RFC3339)}
		for f, v := range k.Credential {
			s[f] = v
		}
		c.targets[c.rnd.IntN(len(c.targets))].Put(s)
	}
	return state.ProviderKey{Provider: "mem", ID: k.ID, Name: k.Name, CreatedAt: c.around(48 * time.Hour)}
}

func (c *propertyCase) randomState() {
	r := c.rnd
	st := state.Key{Name: "mail", Failures: r.IntN(3), LastSuccessAt: c.around(48 * time.Hour),
		LastKeepAliveAt: c.around(12 * time.Hour)}
	for range r.IntN(3) {
		rt := state.Retiring{ProviderKey: c.newKey(r.IntN(5) == 0), RevokeAfter: c.around(2 * time.Hour), Attempts: r.IntN(3),
			LastUsedAt: c.around(2 * time.Hour), UsageCheckedAt: c.around(2 * time.Hour)}
		rt.SupersededAt = rt.RevokeAfter.Add(-c.key.Grace)
		if r.IntN(5) == 0 {
			rt.AwaitingHooks = []string{"restart-app"}
		}
		if rt.Attempts > 0 {
			rt.NextAttemptAt = c.around(time.Hour)
		}
		st.Retiring = append(st.Retiring, rt)
	}
	if r.IntN(5) > 0 {
		cur := c.newKey(r.IntN(10) > 0)
		st.Current = &cur
	}
	if st.Failures > 0 {
		st.NextAttemptAt = c.around(time.Hour)
	}
	if r.IntN(5) == 0 {
		st.KeepAliveRetryAt = c.around(time.Hour)
	}
	if r.IntN(10) == 0 && st.Current != nil {
		st.Emergency = "the provider reports the current key inactive"
	}
	if r.IntN(5) == 0 {
		rot := &state.Rotation{ID: "rot-1", Step: pick(r, state.StepIntent, state.StepCreated, state.StepWritten), Provider: "mem",
			KeyName: ProviderKeyName("rotator-", "mail", t0), StartedAt: c.around(time.Hour), Reason: string(ReasonScheduleDue)}
		if rot.Step != state.StepIntent {
			k := c.newKey(r.IntN(2) == 0)
			rot.KeyID, rot.KeyName, rot.CreatedAt = k.ID, k.Name, k.CreatedAt
		}
		st.Rotation = rot
	}
	if r.IntN(5) == 0 {
		st.Watch = []state.Watched{{Provider: "mem", Name: ProviderKeyName("rotator-", "mail", t0), Since: t0,
			NextCheckAt: c.around(time.Hour), Until: t0.Add(time.Hour)}}
	}
	c.st = st
}

func (c *propertyCase) engine() (*Engine, error) {
	mem := c.prov.Provider
	revoke := mem.RevokeFunc
	mem.RevokeFunc = func(ctx context.Context, id string) error { c.revoked = append(c.revoked, id); return revoke(ctx, id) }
	create := mem.CreateFunc
	mem.CreateFunc = func(ctx context.Context, name string, p map[string]string) (providers.Key, error) {
		c.created++
		return create(ctx, name, p)
	}
	m := &Managed{Policy: c.key, Provider: &mem}
	for i, tg := range c.targets {
		m.Targets = append(m.Targets, BoundTarget{Sink: []string{"a", "b"}[i], Target: tg})
	}
	other := &Managed{Policy: c.key, Provider: &mem}
	other.Policy.Name = "other"
	store := &memStore{m: map[string][]byte{}}
	if err := store.Put(c.st); err != nil {
		return nil, err
	}
	return New(Options{Keys: []*Managed{m, other}, Providers: map[string]providers.Provider{"mem": &mem}, Store: store,
		Logger: zap.NewNop(), Metrics: NewMetrics(prometheus.NewRegistry()), Clock: c.clock, VerifyAttempts: 1})
}

func (c *propertyCase) check() error {
	e, err := c.engine()
	if err != nil {
		return err
	}
	var plan bytes.Buffer
	if err := e.Plan(&plan, c.once, c.daemon); err != nil {
		return err
	}
	mode := Mode{}
	if !c.daemon {
		modes, err := e.onceModes(c.once)
		if err != nil {
			return err
		}
		mode = modes[0]
	}
	out, _ := e.Evaluate(context.Background(), "mail", mode)
	planned, done := plannedActions(plan.String()), executedActions(out)
	if !slices.Equal(planned, done) {
		return fmt.Errorf("the plan said %q, the engine did %q\nplan:\n%s", planned, done, plan.String())
	}
	if err := c.checkCalls(out); err != nil {
		return fmt.Errorf("%w\nplan:\n%s", err, plan.String())
	}
	return c.checkNoHeldKeyRevoked()
}

// plannedActions reads the actions of key mail back from the printed plan.
func plannedActions(plan string) []string {
	var acts []string
	mail := false
	for _, line := range strings.Split(plan, "\n") {
		if strings.HasPrefix(line, "key ") {
			mail = strings.HasPrefix(line, "key mail ")
		}
		switch {
		case !mail:
		case strings.HasPrefix(line, "  resume: "):
			acts = append(acts, "resume")
		case strings.HasPrefix(line, "  revoke: key "):
			acts = append(acts, "revoke "+strings.Fields(line)[2])
		case strings.HasPrefix(line, "  rotate (reason: "):
			acts = append(acts, "rotate")
		case strings.HasPrefix(line, "  keep-alive: use key "):
			acts = append(acts, "keepalive "+strings.Fields(line)[3])
		case strings.HasPrefix(line, "  check usage: "):
			acts = append(acts, "check_usage "+strings.Fields(line)[7])
		case strings.HasPrefix(line, "  look up "):
			acts = append(acts, "sweep "+strings.Fields(line)[2])
		}
	}
	return acts
}

func executedActions(out Outcome) []string {
	var acts []string
	for _, a := range out.Actions {
		switch a.Kind {
		case ActRevoke, ActKeepAlive, ActCheckUsage:
			acts = append(acts, string(a.Kind)+" "+a.KeyID)
		case ActSweep:
			acts = append(acts, "sweep "+a.Name)
		default:
			acts = append(acts, string(a.Kind))
		}
	}
	return acts
}

// checkCalls asserts that every create and revoke at the provider was
// asked for by an action the engine attempted.
func (c *propertyCase) checkCalls(out Outcome) error {
	allowed := map[string]bool{}
	rotated := false
	for _, a := range out.Actions {
		if a.Skipped != "" {
			continue
		}
		switch a.Kind {
		case ActRevoke:
			allowed[a.KeyID] = true
		case ActRotate:
			rotated = true
		}
		switch a.Kind {
		case ActRotate, ActResume:
			if a.RevokeOld {
				for _, rt := range c.st.Retiring {
					allowed[rt.ID] = true
				}
				if c.st.Current != nil {
					allowed[c.st.Current.ID] = true
				}
			}
		}
		switch a.Kind {
		case ActResume, ActSweep:
			for _, info := range c.prov.List("rotator-") {
				if (c.st.Rotation != nil && (info.ID == c.st.Rotation.KeyID || info.Name == c.st.Rotation.KeyName)) || info.Name == a.Name {
					allowed[info.ID] = true
				}
			}
		}
	}
	if c.created > 0 && !rotated {
		return fmt.Errorf("%d creates without a rotate action", c.created)
	}
	for _, id := range c.revoked {
		if !allowed[id] {
			return fmt.Errorf("key %s revoked without an action that asked for it", id)
		}
	}
	return nil
}

func (c *propertyCase) checkNoHeldKeyRevoked() error {
	for i, tg := range c.targets {
		s, err := tg.Current()
		if err != nil {
			continue
		}
		if id := s[FieldKeyID]; slices.Contains(c.revoked, id) {
			return fmt.Errorf("sink %d still holds key %s, which was revoked", i, id)
		}
	}
	return nil
}
