package rotate_test

import (
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/rotate"
)

// unusedHarness rotates once (key A), then again (key B supersedes A), with
// revoke_when: unused, grace 1h, quiet 10m and max_grace 4h.
func unusedHarness(t *testing.T, onMax string) (h *harness, old string) {
	h = newHarness(t, func(k *config.Key) {
		k.KeepAlive = 0
		k.Revocation = config.Revocation{When: config.RevokeWhenUnused, Quiet: 10 * time.Minute, MaxGrace: 4 * time.Hour, OnMaxGrace: onMax}
	})
	h.MustEval(rotate.Mode{})
	old = h.State().Current.ID
	h.Clock.Advance(24 * time.Hour)
	h.MustEval(rotate.Mode{})
	return h, old
}

// evalFor evaluates every minute for d, as the scheduler would wake it.
func (h *harness) evalFor(d time.Duration, each func()) {
	for end := h.Clock.Now().Add(d); h.Clock.Now().Before(end); {
		h.Clock.Advance(time.Minute)
		if each != nil {
			each()
		}
		h.Eval(rotate.Mode{})
	}
}

func (h *harness) active(id string) bool {
	info, _ := h.Prov.Get(id)
	return info.Active
}

// A consumer that keeps using the old key holds its revocation past grace;
// the key is revoked `quiet` after the consumer moves to the new one.
func TestUnusedHoldsRevocationWhileTheOldKeyIsUsed(t *testing.T) {
	h, old := unusedHarness(t, config.OnMaxGraceRevoke)
	use := func() { _, _ = h.Prov.Touch(old) }
	h.evalFor(2*time.Hour, use) // a slow consumer, past the 1h grace
	if !h.active(old) {
		t.Fatal("the old key was revoked while a consumer still used it")
	}
	moved := h.Clock.Now()
	gets := h.Prov.Calls("get")
	h.evalFor(9*time.Minute, nil)
	if !h.active(old) {
		t.Fatal("the old key was revoked before quiet (10m) had passed since its last use")
	}
	h.evalFor(3*time.Minute, nil)
	if h.active(old) {
		t.Fatalf("the old key is still active %s after its last use (quiet 10m)", h.Clock.Since(moved))
	}
	if n := h.Prov.Calls("get") - gets; n > 3 {
		t.Errorf("%d usage checks in 12 minutes, want at most 3 (one per quiet period, one to confirm)", n)
	}
	h.CheckSafety("after the revocation")
}

// At max_grace a key still in use is revoked anyway, or kept with
// on_max_grace: keep.
func TestUnusedAtMaxGrace(t *testing.T) {
	for _, onMax := range []string{config.OnMaxGraceRevoke, config.OnMaxGraceKeep} {
		t.Run(onMax, func(t *testing.T) {
			h, old := unusedHarness(t, onMax)
			h.evalFor(4*time.Hour+2*time.Minute, func() { _, _ = h.Prov.Touch(old) })
			if want := onMax == config.OnMaxGraceKeep; h.active(old) != want {
				t.Errorf("old key active = %v at max_grace, want %v", h.active(old), want)
			}
			if onMax == config.OnMaxGraceRevoke && len(h.Logs.FilterMessageSnippet("max_grace").All()) == 0 {
				t.Error("no error log says the key was revoked at max_grace")
			}
		})
	}
}

// rotator itself never uses a superseded key under unused (no keep-alive
// in grace), or it would mask its consumers.
func TestUnusedDoesNotKeepSupersededKeysAlive(t *testing.T) {
	h, old := unusedHarness(t, config.OnMaxGraceRevoke)
	h.Engine.Policy("mail").KeepAlive = 10 * time.Minute
	superseded := h.Clock.Now()
	h.evalFor(50*time.Minute, nil)
	if info, _ := h.Prov.Get(old); info.LastUsedAt.After(superseded) {
		t.Errorf("the superseded key was used at %s by rotator itself", info.LastUsedAt)
	}
}

// A revocation at max_grace is counted under result="max_grace".
func TestMaxGraceRevocationIsCounted(t *testing.T) {
	h, old := unusedHarness(t, config.OnMaxGraceRevoke)
	h.evalFor(4*time.Hour+2*time.Minute, func() { _, _ = h.Prov.Touch(old) })
	if got := h.Metrics.KeyValue("rotator_revocations_total", "mail", "max_grace"); got != 1 {
		t.Errorf("rotator_revocations_total{result=max_grace} = %v, want 1", got)
	}
}
