package rotate_test

import (
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/rotate"
)

// A forced pass (--run-now) that rotates a key tests the new key once (the
// verify step) and does not keep that same key alive at once. Ignoring
// backoff never makes an interval due: a pass that does not rotate a key
// (--key selecting another, --due-only) keeps it alive only when its
// keep-alive interval has passed (issue 12: every hourly --run-now used to
// use every key, and each smtpd.dev keep-alive login expires its
// consumers' refresh tokens).
func TestRunNowKeepsAliveByIntervalOnly(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	tests := h.Prov.Calls("test")
	out := h.MustEval(rotate.Mode{Force: true, IgnoreBackoff: true})
	if !out.Rotated || out.KeptAlive {
		t.Fatalf("rotated=%v kept alive=%v, want a rotation and no extra keep-alive", out.Rotated, out.KeptAlive)
	}
	if got := h.Prov.Calls("test") - tests; got != 1 {
		t.Errorf("the forced rotation made %d Test calls, want 1 (verify)", got)
	}
	if got := h.State().LastKeepAliveAt; !got.Equal(h.Clock.Now()) {
		t.Errorf("last keep-alive = %s, want now (the verify counts)", got)
	}
	tests = h.Prov.Calls("test")
	out = h.MustEval(rotate.Mode{NoRotate: true, IgnoreBackoff: true})
	if out.Rotated || out.KeptAlive || h.Prov.Calls("test") != tests {
		t.Errorf("unselected key within its interval: rotated=%v kept alive=%v tests=%d, want nothing", out.Rotated, out.KeptAlive, h.Prov.Calls("test")-tests)
	}
	h.Clock.Advance(h.Key.KeepAlive / 2)
	out = h.MustEval(rotate.Mode{IgnoreBackoff: true}) // --run-now --due-only
	if out.Rotated || out.KeptAlive || h.Prov.Calls("test") != tests {
		t.Errorf("--due-only within the interval: rotated=%v kept alive=%v, want nothing", out.Rotated, out.KeptAlive)
	}
	h.Clock.Advance(h.Key.KeepAlive/2 + time.Second)
	out = h.MustEval(rotate.Mode{NoRotate: true, IgnoreBackoff: true})
	// One Test call: the current key (the previous one's grace ended and
	// the --due-only pass revoked it).
	if !out.KeptAlive || h.Prov.Calls("test")-tests != 1 {
		t.Errorf("interval passed: kept alive=%v tests=%d, want a keep-alive of the current key", out.KeptAlive, h.Prov.Calls("test")-tests)
	}
	tests = h.Prov.Calls("test")
	if out := h.MustEval(rotate.Mode{NoRotate: true, KeepAlive: true}); !out.KeptAlive || h.Prov.Calls("test") == tests {
		t.Errorf("an explicit keep-alive was not made")
	}
}
