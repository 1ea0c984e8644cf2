package smtpd_test

import (
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/rotate/rotatetest"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/file"
)

// rig is the shared engine rig rotating one key "mail" at smtpd.dev (the
// test server, on the same fake clock) into a real file sink, with a real
// state file.
type rig struct {
	*env
	*rotatetest.Rig
	target sinks.Target
	logs   *observer.ObservedLogs // the engine's and the file sink's
}

func newRig(t *testing.T, o envOpt, mutate func(*config.Key)) *rig {
	t.Helper()
	e := newEnv(t, o)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o700); err != nil {
		t.Fatalf("os.Mkdir(filepath.Join(dir, \"out\"), 0o700): %v", err)
	}
	core, logs := observer.New(zap.DebugLevel)
	fs, err := file.New(file.Config{Dir: filepath.Join(dir, "out"), Mode: 0o600}, sinks.Deps{Name: "out", Logger: zap.New(core), Clock: e.clock})
	if err != nil {
		t.Fatalf("file.New: %v", err)
	}
	target, err := fs.Bind(section(t, dir, "sink: out\npath: mail.env\n"))
	if err != nil {
		t.Fatalf("fs.Bind: %v", err)
	}
	return &rig{env: e, target: target, logs: logs, Rig: rotatetest.New(t, rotatetest.Options{
		Clock: e.clock, Core: core, Provider: e.p, Targets: []rotate.BoundTarget{{Sink: "out", Target: target}}, NoEvents: true,
		Key: func(k *config.Key) {
			k.Provider, k.Params, k.ScheduleSpec, k.KeepAlive = "smtpd", map[string]string{"role": "send_only"}, "@every 8760h", 7*24*time.Hour
			if mutate != nil {
				mutate(k)
			}
		},
	})}
}

func (r *rig) eval(t *testing.T, mode rotate.Mode) (rotate.Outcome, error) {
	t.Helper()
	out, err, _ := r.Eval(mode)
	return out, err
}

// sinkCred returns the key id the sink holds, and checks smtpd accepts
// the credential there right now.
func (r *rig) sinkCred(t *testing.T) string {
	t.Helper()
	got, err := r.target.Read(ctx)
	if err != nil {
		t.Fatalf("r.target.Read: %v", err)
	}
	if !r.srv.Valid(providers.Credential{"key": got["key"], "secret": got["secret"]}) {
		t.Fatalf("the sink holds key %s, which smtpd refuses: got false, want true", got[rotate.FieldKeyID])
	}
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
	if err != nil {
		t.Fatalf("r.eval: %v", err)
	}
	if !out.Rotated {
		t.Fatalf("out.Rotated: got false, want true")
	}
	first := r.sinkCred(t)

	out, err = r.eval(t, rotate.Mode{Force: true})
	if err != nil {
		t.Fatalf("r.eval: %v", err)
	}
	if !out.Rotated {
		t.Fatalf("out.Rotated: got false, want true")
	}
	second := r.sinkCred(t)
	if second == first {
		t.Fatalf("second = %q, want anything else", second)
	}
	active, both := r.active(), []string{first, second}
	slices.Sort(active)
	slices.Sort(both)
	if !slices.Equal(active, both) {
		t.Fatalf("both keys live during grace: active keys %q, want %q", active, both)
	}

	r.clock.Advance(time.Hour + time.Minute)
	out, err = r.eval(t, rotate.Mode{})
	if err != nil {
		t.Fatalf("r.eval: %v", err)
	}
	if out.Revoked != 1 {
		t.Fatalf("out.Revoked = %v, want %v", out.Revoked, 1)
	}
	if got, want := r.active(), []string{second}; !reflect.DeepEqual(want, got) {
		t.Fatalf("r.active() = %+v, want %+v", got, want)
	}
	r.requireNoSecrets(t, r.Errs...)
	requireNoSecretInLogs(t, r)
}

// TestEngineKeepAliveBeatsInactivityRevocation: smtpd revokes keys unused
// for 90 days. With a yearly schedule, only keep-alive keeps the key, and
// rotator_key_last_used_timestamp_seconds follows what smtpd reports.
func TestEngineKeepAliveBeatsInactivityRevocation(t *testing.T) {
	r := newRig(t, envOpt{}, nil)
	_, err := r.eval(t, rotate.Mode{})
	if err != nil {
		t.Fatalf("r.eval: %v", err)
	}
	id := r.sinkCred(t)
	for day := 0; day < 200; day += 7 {
		r.clock.Advance(7 * 24 * time.Hour)
		out, err := r.eval(t, rotate.Mode{})
		if err != nil {
			t.Fatalf("r.eval: %v", err)
		}
		if !out.KeptAlive {
			t.Fatalf("day %d: no keep-alive: got false, want true", day)
		}
		if out.Rotated {
			t.Fatalf("day %d: rotated: got true, want false", day)
		}
	}
	rec := r.record(t, id)
	if !rec.Active {
		t.Fatalf("smtpd revoked the key for inactivity despite keep-alive: got false, want true")
	}
	lastUsed := testutil.ToFloat64(metric(r, "rotator_key_last_used_timestamp_seconds"))
	if want := float64(rec.LastAccessedAt.Unix()); !(math.Abs(want-lastUsed) <= 1) {
		t.Fatalf("last-used metric does not follow smtpd: got %v, want %v ± %v", lastUsed, want, 1)
	}
	deadline := testutil.ToFloat64(metric(r, "rotator_key_inactivity_deadline_timestamp_seconds"))
	if want := float64(rec.LastAccessedAt.Add(90 * 24 * time.Hour).Unix()); !(math.Abs(want-deadline) <= 1) {
		t.Fatalf("deadline = %v, want %v ± %v", deadline, want, 1)
	}
}

// TestEngineInactiveCurrentKeyIsAnEmergency: a keep-alive interval longer
// than smtpd's 90 days lets smtpd disable the key; the next keep-alive
// finds it inactive and the key is rotated at once.
func TestEngineInactiveCurrentKeyIsAnEmergency(t *testing.T) {
	r := newRig(t, envOpt{}, func(k *config.Key) { k.KeepAlive = 100 * 24 * time.Hour })
	_, err := r.eval(t, rotate.Mode{})
	if err != nil {
		t.Fatalf("r.eval: %v", err)
	}
	dead := r.sinkCred(t)
	r.clock.Advance(100 * 24 * time.Hour)
	_, err = r.eval(t, rotate.Mode{})
	if err == nil {
		t.Fatalf("the keep-alive of an inactive key must fail loudly: got no error, want one")
	}
	if r.record(t, dead).Active {
		t.Fatalf("r.record(t, dead).Active: got true, want false")
	}
	out, err := r.eval(t, rotate.Mode{})
	if err != nil {
		t.Fatalf("r.eval: %v", err)
	}
	if !out.Rotated {
		t.Fatalf("out.Rotated: got false, want true")
	}
	if out.Reason != rotate.ReasonEmergency {
		t.Fatalf("out.Reason = %q, want %q", out.Reason, rotate.ReasonEmergency)
	}
	if got := r.sinkCred(t); got == dead {
		t.Fatalf("r.sinkCred(t) = %q, want anything else", got)
	}
	if got := testutil.ToFloat64(metric(r, "rotator_emergency_rotations_total")); got != 1.0 {
		t.Fatalf("testutil.ToFloat64(metric(r, \"rotator_emergency_rotations_total\")) = %v, want %v", got, 1.0)
	}
	var loud bool
	for _, e := range r.logs.All() {
		if e.Level == zap.ErrorLevel && e.Message == "rotating now: the provider no longer accepts the current key" {
			loud = true
		}
	}
	if !loud {
		t.Fatalf("the emergency was not logged at error level: got false, want true")
	}
}

func TestEngineDroppedCreate(t *testing.T) {
	r := newRig(t, envOpt{}, nil)
	r.srv.DropNextCreate()
	_, err := r.eval(t, rotate.Mode{})
	if got := providers.ReasonOf(err); got != providers.ReasonTimeout {
		t.Fatalf("err = %v: got %q, want %q", err, got, providers.ReasonTimeout)
	}
	if got := r.active(); len(got) != 0 {
		t.Fatalf("the key created by the dropped call is still active: got %+v, want empty", got)
	}
	r.clock.Advance(time.Hour)
	out, err := r.eval(t, rotate.Mode{})
	if err != nil {
		t.Fatalf("r.eval: %v", err)
	}
	if !out.Rotated {
		t.Fatalf("out.Rotated: got false, want true")
	}
	if got, want := r.active(), []string{r.sinkCred(t)}; !reflect.DeepEqual(want, got) {
		t.Fatalf("r.active() = %+v, want %+v", got, want)
	}
}

func TestEngineTokenExpiryAndRelogin(t *testing.T) {
	r := newRig(t, envOpt{}, nil)
	_, err := r.eval(t, rotate.Mode{})
	if err != nil {
		t.Fatalf("r.eval: %v", err)
	}
	logins := r.srv.Requests()[smtpdtest.OpLogin]
	r.srv.ExpireAccessTokens() // the server forgets every token: the next call gets 401
	_, err = r.eval(t, rotate.Mode{Force: true})
	if err != nil {
		t.Fatalf("a rotation after the token expired must log in again: %v", err)
	}
	r.clock.Advance(2 * time.Hour) // past the token's own expiry too
	out, err := r.eval(t, rotate.Mode{Force: true})
	if err != nil {
		t.Fatalf("r.eval: %v", err)
	}
	if !out.Rotated {
		t.Fatalf("out.Rotated: got false, want true")
	}
	if got := r.srv.Requests()[smtpdtest.OpLogin]; got <= logins+1 {
		t.Fatalf("no new login: got %v, want more than %v", got, logins+1)
	}
	r.sinkCred(t)
}

func TestEngineOrphans(t *testing.T) {
	r := newRig(t, envOpt{}, func(k *config.Key) { k.PruneOrphans = true })
	_, err := r.eval(t, rotate.Mode{})
	if err != nil {
		t.Fatalf("r.eval: %v", err)
	}
	orphan, err := r.p.Create(ctx, rotate.ProviderKeyName("rotator-", "mail", r.clock.Now()), map[string]string{"role": "send_only"})
	if err != nil {
		t.Fatalf("r.p.Create: %v", err)
	}
	left, err := r.Engine.ScanOrphans(ctx, "smtpd")
	if err != nil {
		t.Fatalf("r.Engine.ScanOrphans: %v", err)
	}
	if left != 1 {
		t.Fatalf("a young orphan may be a create still in flight: it must be left alone: got %v, want %v", left, 1)
	}
	r.clock.Advance(time.Hour) // older than the orphan minimum age
	left, err = r.Engine.ScanOrphans(ctx, "smtpd")
	if err != nil {
		t.Fatalf("r.Engine.ScanOrphans: %v", err)
	}
	if left != 0 {
		t.Fatalf("left = %v, want zero", left)
	}
	if r.record(t, orphan.ID).Active {
		t.Fatalf("the orphan was not revoked: got true, want false")
	}
	if got, want := r.active(), []string{r.sinkCred(t)}; !reflect.DeepEqual(want, got) {
		t.Fatalf("r.active() = %+v, want %+v", got, want)
	}
}

// metric is the sum of a family's series as /metrics serves them, -1 when
// it is not served.
func metric(r *rig, name string) prometheus.Collector {
	rec := httptest.NewRecorder()
	r.Metrics.Handler(r.Reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
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
				if strings.Contains(f.String, s) {
					t.Fatalf("got %q, want it not to contain %q", f.String, s)
				}
			}
			if strings.Contains(e.Message, s) {
				t.Fatalf("got %q, want it not to contain %q", e.Message, s)
			}
		}
	}
}
