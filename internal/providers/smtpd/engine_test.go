package smtpd_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/file"
	"github.com/rotator-dev/rotator/internal/state"
)

// rig is the real engine rotating one key "mail" at smtpd.dev (the test
// server, on the same fake clock) into a real file sink and state file.
type rig struct {
	*env
	eng    *rotate.Engine
	store  *state.Store
	target sinks.Target
	reg    *prometheus.Registry
	m      *rotate.Metrics
	logs   *observer.ObservedLogs
	errs   []error
}

func newRig(t *testing.T, o envOpt, mutate func(*config.Key)) *rig {
	t.Helper()
	e := newEnv(t, o)
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "out"), 0o700))
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	fs, err := file.New(file.Config{Dir: filepath.Join(dir, "out"), Mode: 0o600}, sinks.Deps{Name: "out", Logger: log, Clock: e.clock})
	require.NoError(t, err)
	target, err := fs.Bind(section(t, dir, "sink: out\npath: mail.env\n"))
	require.NoError(t, err)
	sched, err := config.ParseSchedule("@every 8760h")
	require.NoError(t, err)
	key := config.Key{Name: "mail", Provider: "smtpd", Params: map[string]string{"role": "send_only"}, ScheduleSpec: "@every 8760h",
		Schedule: sched, Grace: time.Hour, KeepAlive: 7 * 24 * time.Hour, Timeout: time.Minute, NamePrefix: "rotator-"}
	if mutate != nil {
		mutate(&key)
	}
	store, err := state.Open(filepath.Join(dir, "state.db"), state.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { store.Close() })
	r := &rig{env: e, store: store, target: target, reg: prometheus.NewRegistry(), logs: logs}
	r.m = rotate.NewMetrics(r.reg)
	r.eng, err = rotate.New(rotate.Options{
		Keys:      []*rotate.Managed{{Policy: key, Provider: e.p, Targets: []rotate.BoundTarget{{Sink: "out", Target: target}}}},
		Providers: map[string]providers.Provider{"smtpd": e.p},
		Store:     store, Logger: log, Metrics: r.m, Clock: e.clock,
	})
	require.NoError(t, err)
	return r
}

func (r *rig) eval(t *testing.T, mode rotate.Mode) (rotate.Outcome, error) {
	t.Helper()
	out, err := r.eng.Evaluate(ctx, "mail", mode)
	if err != nil {
		r.errs = append(r.errs, err)
	}
	return out, err
}

// sinkCred returns the key id the sink holds, and checks smtpd accepts
// the credential there right now.
func (r *rig) sinkCred(t *testing.T) string {
	t.Helper()
	got, err := r.target.Read(ctx)
	require.NoError(t, err)
	require.True(t, r.srv.Valid(providers.Credential{"key": got["key"], "secret": got["secret"]}),
		"the sink holds key %s, which smtpd refuses", got[rotate.FieldKeyID])
	return got[rotate.FieldKeyID]
}

func (r *rig) active() []string {
	var ids []string
	for _, k := range r.srv.Keys() {
		if k.Active {
			ids = append(ids, k.ID)
		}
	}
	return ids
}

func (r *rig) record(t *testing.T, id string) smtpdtest.KeyRecord {
	t.Helper()
	for _, k := range r.srv.Keys() {
		if k.ID == id {
			return k
		}
	}
	t.Fatalf("no key %s at the server", id)
	return smtpdtest.KeyRecord{}
}

func TestEngineRotateGraceRevoke(t *testing.T) {
	r := newRig(t, envOpt{}, nil)
	out, err := r.eval(t, rotate.Mode{})
	require.NoError(t, err)
	require.True(t, out.Rotated)
	first := r.sinkCred(t)

	out, err = r.eval(t, rotate.Mode{Force: true})
	require.NoError(t, err)
	require.True(t, out.Rotated)
	second := r.sinkCred(t)
	require.NotEqual(t, first, second)
	require.ElementsMatch(t, []string{first, second}, r.active(), "both keys live during grace")

	r.clock.Advance(time.Hour + time.Minute)
	out, err = r.eval(t, rotate.Mode{})
	require.NoError(t, err)
	require.Equal(t, 1, out.Revoked)
	require.Equal(t, []string{second}, r.active())
	r.requireNoSecrets(t, r.errs...)
	requireNoSecretInLogs(t, r)
}

// TestEngineKeepAliveBeatsInactivityRevocation: smtpd revokes keys unused
// for 90 days. With a yearly schedule, only keep-alive keeps the key, and
// rotator_key_last_used_timestamp_seconds follows what smtpd reports.
func TestEngineKeepAliveBeatsInactivityRevocation(t *testing.T) {
	r := newRig(t, envOpt{}, nil)
	_, err := r.eval(t, rotate.Mode{})
	require.NoError(t, err)
	id := r.sinkCred(t)
	for day := 0; day < 200; day += 7 {
		r.clock.Advance(7 * 24 * time.Hour)
		out, err := r.eval(t, rotate.Mode{})
		require.NoError(t, err)
		require.True(t, out.KeptAlive, "day %d: no keep-alive", day)
		require.False(t, out.Rotated, "day %d: rotated", day)
	}
	rec := r.record(t, id)
	require.True(t, rec.Active, "smtpd revoked the key for inactivity despite keep-alive")
	lastUsed := testutil.ToFloat64(metric(r, "rotator_key_last_used_timestamp_seconds"))
	require.InDelta(t, float64(rec.LastAccessedAt.Unix()), lastUsed, 1, "last-used metric does not follow smtpd")
	deadline := testutil.ToFloat64(metric(r, "rotator_key_inactivity_deadline_timestamp_seconds"))
	require.InDelta(t, float64(rec.LastAccessedAt.Add(90*24*time.Hour).Unix()), deadline, 1)
}

// TestEngineInactiveCurrentKeyIsAnEmergency: a keep-alive interval longer
// than smtpd's 90 days lets smtpd disable the key; the next keep-alive
// finds it inactive and the key is rotated at once.
func TestEngineInactiveCurrentKeyIsAnEmergency(t *testing.T) {
	r := newRig(t, envOpt{}, func(k *config.Key) { k.KeepAlive = 100 * 24 * time.Hour })
	_, err := r.eval(t, rotate.Mode{})
	require.NoError(t, err)
	dead := r.sinkCred(t)
	r.clock.Advance(100 * 24 * time.Hour)
	_, err = r.eval(t, rotate.Mode{})
	require.Error(t, err, "the keep-alive of an inactive key must fail loudly")
	require.False(t, r.record(t, dead).Active)
	out, err := r.eval(t, rotate.Mode{})
	require.NoError(t, err)
	require.True(t, out.Rotated)
	require.Equal(t, rotate.ReasonEmergency, out.Reason)
	require.NotEqual(t, dead, r.sinkCred(t))
	require.Equal(t, 1.0, testutil.ToFloat64(metric(r, "rotator_emergency_rotations_total")))
	var loud bool
	for _, e := range r.logs.All() {
		if e.Level == zap.ErrorLevel && e.Message == "rotating now: the provider no longer accepts the current key" {
			loud = true
		}
	}
	require.True(t, loud, "the emergency was not logged at error level")
}

func TestEngineDroppedCreate(t *testing.T) {
	r := newRig(t, envOpt{}, nil)
	r.srv.DropNextCreate()
	_, err := r.eval(t, rotate.Mode{})
	require.Equal(t, providers.ReasonTimeout, providers.ReasonOf(err), "err = %v", err)
	require.Empty(t, r.active(), "the key created by the dropped call is still active")
	r.clock.Advance(time.Hour)
	out, err := r.eval(t, rotate.Mode{})
	require.NoError(t, err)
	require.True(t, out.Rotated)
	require.Equal(t, []string{r.sinkCred(t)}, r.active())
}

func TestEngineTokenExpiryAndRelogin(t *testing.T) {
	r := newRig(t, envOpt{}, nil)
	_, err := r.eval(t, rotate.Mode{})
	require.NoError(t, err)
	logins := r.srv.Requests()[smtpdtest.OpLogin]
	r.srv.ExpireAccessTokens() // the server forgets every token: the next call gets 401
	_, err = r.eval(t, rotate.Mode{Force: true})
	require.NoError(t, err, "a rotation after the token expired must log in again")
	r.clock.Advance(2 * time.Hour) // past the token's own expiry too
	out, err := r.eval(t, rotate.Mode{Force: true})
	require.NoError(t, err)
	require.True(t, out.Rotated)
	require.Greater(t, r.srv.Requests()[smtpdtest.OpLogin], logins+1, "no new login")
	r.sinkCred(t)
}

func TestEngineOrphans(t *testing.T) {
	r := newRig(t, envOpt{}, func(k *config.Key) { k.PruneOrphans = true })
	_, err := r.eval(t, rotate.Mode{})
	require.NoError(t, err)
	orphan, err := r.p.Create(ctx, rotate.ProviderKeyName("rotator-", "mail", r.clock.Now()), map[string]string{"role": "send_only"})
	require.NoError(t, err)
	left, err := r.eng.ScanOrphans(ctx, "smtpd")
	require.NoError(t, err)
	require.Equal(t, 1, left, "a young orphan may be a create still in flight: it must be left alone")
	r.clock.Advance(time.Hour) // older than the orphan minimum age
	left, err = r.eng.ScanOrphans(ctx, "smtpd")
	require.NoError(t, err)
	require.Zero(t, left)
	require.False(t, r.record(t, orphan.ID).Active, "the orphan was not revoked")
	require.Equal(t, []string{r.sinkCred(t)}, r.active())
}

// metric is the sum of a family's series as /metrics serves them, -1 when
// it is not served.
func metric(r *rig, name string) prometheus.Collector {
	rec := httptest.NewRecorder()
	r.m.Handler(r.reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, _ := parser.TextToMetricFamilies(rec.Body)
	mf, ok := mfs[name]
	if !ok {
		return gaugeOf(-1)
	}
	var sum float64
	for _, m := range mf.GetMetric() {
		sum += m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	return gaugeOf(sum)
}

func gaugeOf(v float64) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
	g.Set(v)
	return g
}

func requireNoSecretInLogs(t *testing.T, r *rig) {
	t.Helper()
	for _, e := range r.logs.All() {
		for _, s := range r.srv.IssuedSecrets() {
			for _, f := range e.Context {
				require.NotContains(t, f.String, s)
			}
			require.NotContains(t, e.Message, s)
		}
	}
}
