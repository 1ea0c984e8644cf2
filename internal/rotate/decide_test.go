package rotate_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/state"
)

func decideKey() config.Key {
	sched, _ := config.ParseSchedule("@every 24h")
	return config.Key{Name: "k", Schedule: sched, Grace: time.Hour, KeepAlive: 6 * time.Hour, Timeout: time.Minute}
}

// fresh is a key rotated at t0-1h and kept alive then.
func fresh() state.Key {
	at := t0.Add(-time.Hour)
	return state.Key{Name: "k", Current: &state.ProviderKey{ID: "cur", CreatedAt: at}, LastSuccessAt: at, LastKeepAliveAt: at}
}

func kinds(d rotate.Decision) []string {
	var out []string
	for _, a := range d.Actions {
		s := string(a.Kind) + ":" + string(a.Reason)
		if a.KeyID != "" {
			s += ":" + a.KeyID
		}
		out = append(out, s)
	}
	return out
}

func TestDecide(t *testing.T) {
	hour := time.Hour
	tests := map[string]struct {
		key  func(*config.Key)
		st   func(*state.Key)
		mode rotate.Mode
		want []string
		next time.Duration // from t0; 0 means not checked
	}{
		"nothing due: the next keep-alive is the next event": {
			want: nil, next: 5 * hour},
		"a key never rotated is rotated": {
			st: func(s *state.Key) { *s = state.Key{Name: "k"} }, want: []string{"rotate:no_key"}},
		"the schedule is due": {
			st: func(s *state.Key) { s.LastSuccessAt = t0.Add(-25 * hour); s.LastKeepAliveAt = t0 }, want: []string{"rotate:schedule_due"}},
		"a due rotation waits out its backoff": {
			st: func(s *state.Key) {
				s.LastSuccessAt, s.LastKeepAliveAt, s.Failures, s.NextAttemptAt = t0.Add(-25*hour), t0, 2, t0.Add(10*time.Minute)
			},
			want: nil, next: 10 * time.Minute},
		"force ignores schedule and backoff": {
			st:   func(s *state.Key) { s.Failures, s.NextAttemptAt = 1, t0.Add(hour) },
			mode: rotate.Mode{Force: true}, want: []string{"rotate:forced"}},
		"ignoring backoff does not make a schedule due": {
			mode: rotate.Mode{IgnoreBackoff: true}, want: nil},
		"an emergency rotates at once and is not kept alive": {
			st: func(s *state.Key) { s.Emergency = "revoked"; s.LastKeepAliveAt = t0.Add(-7 * hour) }, want: []string{"rotate:emergency"}},
		"a paused key is not rotated but still kept alive": {
			key:  func(k *config.Key) { k.Paused = true },
			st:   func(s *state.Key) { s.LastSuccessAt, s.LastKeepAliveAt = t0.Add(-25*hour), t0.Add(-7*hour) },
			want: []string{"keepalive:interval:cur"}},
		"force overrides a pause": {
			key: func(k *config.Key) { k.Paused = true }, mode: rotate.Mode{Force: true}, want: []string{"rotate:forced"}},
		"a rotation in flight is resumed": {
			st:   func(s *state.Key) { s.Rotation = &state.Rotation{Step: state.StepCreated, KeyID: "new"} },
			want: []string{"resume:interrupted:new"}},
		"a rotation follows a resume, in case the resume abandons it": {
			st: func(s *state.Key) {
				s.Rotation = &state.Rotation{Step: state.StepIntent}
				s.LastSuccessAt = t0.Add(-25 * time.Hour)
			},
			want: []string{"resume:interrupted", "rotate:schedule_due"}},
		"a rotation in flight waits out its backoff": {
			st: func(s *state.Key) {
				s.Rotation = &state.Rotation{Step: state.StepWritten, KeyID: "new"}
				s.Failures, s.NextAttemptAt = 1, t0.Add(time.Minute)
			},
			want: nil, next: time.Minute},
		"a superseded key in grace waits": {
			st: func(s *state.Key) {
				s.Retiring = []state.Retiring{{ProviderKey: state.ProviderKey{ID: "old"}, RevokeAfter: t0.Add(20 * time.Minute)}}
			},
			want: nil, next: 20 * time.Minute},
		"a superseded key past grace is revoked": {
			st: func(s *state.Key) {
				s.Retiring = []state.Retiring{{ProviderKey: state.ProviderKey{ID: "old"}, RevokeAfter: t0.Add(-time.Minute)}}
			},
			want: []string{"revoke:grace_ended:old"}},
		"a failed revocation waits out its backoff": {
			st: func(s *state.Key) {
				s.Retiring = []state.Retiring{{ProviderKey: state.ProviderKey{ID: "old"}, RevokeAfter: t0.Add(-hour),
					Attempts: 1, NextAttemptAt: t0.Add(time.Minute)}}
			},
			want: nil, next: time.Minute},
		"ignoring backoff retries a failed revocation": {
			st: func(s *state.Key) {
				s.Retiring = []state.Retiring{{ProviderKey: state.ProviderKey{ID: "old"}, RevokeAfter: t0.Add(-hour),
					Attempts: 1, NextAttemptAt: t0.Add(time.Minute)}}
			},
			mode: rotate.Mode{IgnoreBackoff: true}, want: []string{"revoke:retry:old"}},
		"ignoring backoff does not end a grace": {
			st: func(s *state.Key) {
				s.Retiring = []state.Retiring{{ProviderKey: state.ProviderKey{ID: "old"}, RevokeAfter: t0.Add(hour)}}
			},
			mode: rotate.Mode{IgnoreBackoff: true, Force: true}, want: []string{"rotate:forced"}},
		"an operator ends every grace": {
			st: func(s *state.Key) {
				s.Retiring = []state.Retiring{{ProviderKey: state.ProviderKey{ID: "old"}, RevokeAfter: t0.Add(hour)}}
			},
			mode: rotate.Mode{RevokeSuperseded: true}, want: []string{"revoke:operator:old"}},
		"grace 0 revokes the old key with the rotation": {
			key: func(k *config.Key) { k.Grace = 0 }, mode: rotate.Mode{Force: true}, want: []string{"rotate:forced"}},
		"keep-alive is due by its interval": {
			st: func(s *state.Key) { s.LastKeepAliveAt = t0.Add(-6 * hour) }, want: []string{"keepalive:interval:cur"}},
		"a failed keep-alive waits out its backoff": {
			st: func(s *state.Key) { s.KeepAliveRetryAt = t0.Add(time.Minute) }, want: nil, next: time.Minute},
		"ignoring backoff retries a failed keep-alive": {
			st:   func(s *state.Key) { s.KeepAliveRetryAt = t0.Add(time.Minute) },
			mode: rotate.Mode{IgnoreBackoff: true}, want: []string{"keepalive:retry:cur"}},
		"keep-alive on request": {mode: rotate.Mode{KeepAlive: true}, want: []string{"keepalive:operator:cur"}},
		"keep-alive disabled":   {key: func(k *config.Key) { k.KeepAlive = 0 }, mode: rotate.Mode{IgnoreBackoff: true}, want: nil, next: 23 * hour},
		"a watched name is looked up when its check is due": {
			st:   func(s *state.Key) { s.Watch = []state.Watched{{Name: "n", NextCheckAt: t0}} },
			want: []string{"sweep:create_outcome_unknown"}},
		"unused: past grace, never asked: usage is checked": {
			key:  unused(config.OnMaxGraceRevoke),
			st:   retiringUnused(time.Time{}, time.Time{}),
			want: []string{"check_usage:usage_unknown:old"}},
		"unused: a fresh report of no use since quiet: revoked": {
			key:  unused(config.OnMaxGraceRevoke),
			st:   retiringUnused(time.Time{}, t0.Add(-time.Second)),
			want: []string{"revoke:unused:old"}},
		"unused: a report taken before quiet had passed proves nothing: checked again": {
			key:  unused(config.OnMaxGraceRevoke),
			st:   retiringUnused(t0.Add(-15*time.Minute), t0.Add(-10*time.Minute)),
			want: []string{"check_usage:usage_unknown:old"}},
		"unused: used recently: waits until it could be quiet": {
			key:  unused(config.OnMaxGraceRevoke),
			st:   retiringUnused(t0.Add(-5*time.Minute), t0.Add(-time.Minute)),
			want: nil, next: 5 * time.Minute},
		"unused: at max_grace: revoked anyway": {
			key: unused(config.OnMaxGraceRevoke),
			st: func(s *state.Key) {
				retiringUnused(t0, t0)(s)
				s.Retiring[0].SupersededAt = t0.Add(-4 * hour)
			},
			want: []string{"revoke:max_grace:old"}},
		"unused: at max_grace with on_max_grace keep: kept": {
			key: unused(config.OnMaxGraceKeep),
			st: func(s *state.Key) {
				retiringUnused(t0, t0)(s)
				s.Retiring[0].SupersededAt = t0.Add(-4 * hour)
			},
			want: nil},
		"not selected by --key: no rotation": {
			st:   func(s *state.Key) { s.LastSuccessAt, s.LastKeepAliveAt = t0.Add(-25*hour), t0 },
			mode: rotate.Mode{NoRotate: true, IgnoreBackoff: true}, want: nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			k, st := decideKey(), fresh()
			if tc.key != nil {
				tc.key(&k)
			}
			if tc.st != nil {
				tc.st(&st)
			}
			d := rotate.Decide(k, st, tc.mode, t0)
			got := kinds(d)
			if !slices.Equal(got, tc.want) {
				t.Errorf("actions = %q, want %q", got, tc.want)
			}
			if tc.next != 0 && !d.Next.Equal(t0.Add(tc.next)) {
				t.Errorf("next = %s, want t0+%s", d.Next, tc.next)
			}
			if name == "grace 0 revokes the old key with the rotation" && !d.Actions[0].RevokeOld {
				t.Error("rotate action does not revoke the old key")
			}
		})
	}
}

// TestDryRunAgreesWithEvaluateAfterAFailedRevocation is issue 12's
// reproduction: after one failed revocation the dry run printed "revoke:
// key 1 (grace ended 0s ago)" while the engine, on the same state, waited
// out the backoff and revoked nothing.
func TestDryRunAgreesWithEvaluateAfterAFailedRevocation(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	h.Clock.Advance(24 * time.Hour)
	h.MustEval(rotate.Mode{})
	old := h.State().Retiring[0].ID
	h.Prov.RevokeFunc = func(context.Context, string) error {
		return &providers.Error{Op: "revoke", Reason: providers.ReasonServer, Status: 503, Message: "unavailable"}
	}
	h.Clock.Advance(h.Key.Grace)
	if _, err, _ := h.Eval(rotate.Mode{}); err == nil {
		t.Fatal("the revocation did not fail")
	}
	var plan bytes.Buffer
	if err := h.Engine.Plan(&plan, rotate.Once{}, true); err != nil {
		t.Fatal(err)
	}
	revokes := h.Prov.Calls("revoke")
	out, err := h.Engine.Evaluate(context.Background(), "mail", rotate.Mode{})
	if err != nil || out.Revoked != 0 {
		t.Fatalf("evaluate: revoked %d, %v", out.Revoked, err)
	}
	if strings.Contains(plan.String(), "revoke: key "+old) {
		t.Errorf("the dry run promises a revocation the engine does not make:\n%s", plan.String())
	}
	if !strings.Contains(plan.String(), "wait: key "+old+" is revoked at") || !strings.Contains(plan.String(), "(backoff)") {
		t.Errorf("the dry run does not show the backoff:\n%s", plan.String())
	}
	if h.Prov.Calls("revoke") != revokes {
		t.Error("the engine revoked during the backoff")
	}
}

// TestOrphanHeldBySinkIsAdoptedNotRevoked is issue 11's finding 1: a state
// backup restored one rotation late made prune_orphans revoke the key both
// sinks were handing out. The orphan scan now adopts it.
func TestOrphanHeldBySinkIsAdoptedNotRevoked(t *testing.T) {
	h := newHarness(t, func(k *config.Key) { k.PruneOrphans = true })
	h.MustEval(rotate.Mode{})
	backup := h.State()
	h.Clock.Advance(24 * time.Hour)
	h.MustEval(rotate.Mode{})
	live := h.State().Current.ID
	if err := h.Store.Put(backup); err != nil { // the operator restores yesterday's backup
		t.Fatal(err)
	}
	h.Clock.Advance(time.Hour)
	if _, err := h.Engine.ScanOrphans(context.Background(), "mem"); err != nil {
		t.Fatal(err)
	}
	if info, _ := h.Prov.Get(live); !info.Active {
		t.Fatalf("the orphan scan revoked key %s, which every sink hands out", live)
	}
	st := h.State()
	if st.Current == nil || st.Current.ID != live {
		t.Fatalf("current = %+v, want the key the sinks hold (%s) adopted", st.Current, live)
	}
	if len(h.Logs.FilterMessageSnippet("adopted").All()) == 0 {
		t.Error("no log line says the key was adopted")
	}
	h.CheckSafety("after adoption")
}

// TestOrphanScanRefusesWhenASinkCannotBeRead: with a sink unreadable
// nobody can tell whether it hands the key out, so prune_orphans leaves
// it alone.
func TestOrphanScanRefusesWhenASinkCannotBeRead(t *testing.T) {
	h := newHarness(t, func(k *config.Key) { k.PruneOrphans = true })
	h.MustEval(rotate.Mode{})
	orphan := h.Prov.Create(rotate.ProviderKeyName("rotator-", "mail", t0))
	h.Clock.Advance(time.Hour)
	h.Memory[1].ReadFunc = func(context.Context) (sinks.Secret, error) { return nil, errors.New("vault sealed") }
	if n, _ := h.Engine.ScanOrphans(context.Background(), "mem"); n != 1 {
		t.Errorf("orphans = %d, want 1 left", n)
	}
	if info, _ := h.Prov.Get(orphan.ID); !info.Active {
		t.Error("an orphan was revoked while a sink could not be read")
	}
}

func unused(onMax string) func(*config.Key) {
	return func(k *config.Key) {
		k.Revocation = config.Revocation{When: config.RevokeWhenUnused, Quiet: 10 * time.Minute, MaxGrace: 4 * time.Hour, OnMaxGrace: onMax}
	}
}

// retiringUnused supersedes key "old" 2h ago (grace 1h, over), last used
// at used, its use last checked at checked.
func retiringUnused(used, checked time.Time) func(*state.Key) {
	return func(s *state.Key) {
		s.Retiring = []state.Retiring{{ProviderKey: state.ProviderKey{ID: "old"}, SupersededAt: t0.Add(-2 * time.Hour),
			RevokeAfter: t0.Add(-time.Hour), LastUsedAt: used, UsageCheckedAt: checked}}
	}
}
