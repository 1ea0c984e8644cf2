package rotate_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/state"
)

// A pause stops scheduled rotations across a restart, shows in the status
// and the metrics, leaves keep-alive running, and resume lifts it.
func TestPauseSurvivesRestartAndResumeLiftsIt(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	if err := h.Engine.Pause("mail", "cli:alice", "incident 42"); err != nil {
		t.Fatal(err)
	}
	h.Restart()
	h.Clock.Advance(25 * time.Hour)
	out := h.MustEval(rotate.Mode{})
	if out.Rotated {
		t.Fatal("a paused key was rotated on schedule")
	}
	if !out.KeptAlive {
		t.Error("a paused key was not kept alive")
	}
	rows := h.Engine.Status([]state.Key{h.State()})
	if !rows[0].Paused || rows[0].PausedBy != "cli:alice" || rows[0].PauseReason != "incident 42" {
		t.Errorf("status row %+v, want paused by cli:alice for incident 42", rows[0])
	}
	if got := h.Metrics.KeyGauge("rotator_key_paused", "mail"); got != 1 {
		t.Errorf("rotator_key_paused = %v, want 1", got)
	}
	if err := h.Engine.Resume("mail", "cli:bob"); err != nil {
		t.Fatal(err)
	}
	if out := h.MustEval(rotate.Mode{}); !out.Rotated {
		t.Error("no rotation after resume, although the schedule is due")
	}
	if got := h.Metrics.KeyGauge("rotator_key_paused", "mail"); got != 0 {
		t.Errorf("rotator_key_paused = %v after resume, want 0", got)
	}
	if err := h.Engine.Pause("nope", "cli:alice", ""); err == nil || !strings.Contains(err.Error(), "keys: mail") {
		t.Errorf("pause of an unknown key: %v, want an error listing the keys", err)
	}
}

// Every step of a rotation goes to the audit trail with its actor and
// reason; no secret is in it.
func TestAuditTrailOfAnOperatorRotation(t *testing.T) {
	h := newHarness(t, func(k *config.Key) { k.Grace = 0 })
	h.MustEval(rotate.Mode{})
	h.Clock.Advance(time.Minute)
	if _, err := h.Engine.Evaluate(context.Background(), "mail", rotate.Mode{Force: true, RevokeSuperseded: true, Actor: "cli:alice", Note: "leaked in a log"}); err != nil {
		t.Fatal(err)
	}
	evs, err := h.Store.Events("mail", h.Clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range evs {
		actions = append(actions, ev.Action)
		if ev.Actor != "cli:alice" || ev.Reason != "operator" || ev.Note != "leaked in a log" || ev.Result != "ok" {
			t.Errorf("event %+v: want actor cli:alice, reason operator, the note, ok", ev)
		}
	}
	want := []string{"rotation_started", "created", "verified", "written", "promoted", "revoked"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit trail %q, want %q", actions, want)
	}
	h.CheckNoSecretLeaked()
}

// A provider's key id or error text cannot put terminal escapes or table
// breaks into the status table.
func TestStatusTableStripsControlCharacters(t *testing.T) {
	var b strings.Builder
	rows := []rotate.StatusRow{{Key: "mail", Provider: "smtpd", Managed: true, CurrentKeyID: "id\x1b[31m", LastError: "bad\ttab\u009b"}}
	if err := rotate.WriteStatus(&b, rows, t0); err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(b.String(), "\x1b\u009b") || strings.Contains(b.String(), "bad\ttab") {
		t.Errorf("status table carries control characters: %q", b.String())
	}
}
