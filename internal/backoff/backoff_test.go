package backoff

import (
	"testing"
	"time"
)

func TestDelayDoublesUpToTheCapWithinItsJitter(t *testing.T) {
	p := Policy{Base: time.Second, Max: 10 * time.Second, Jitter: 0.2}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		n := i + 1
		if got := p.Capped(n); got != w {
			t.Errorf("Capped(%d) = %s, want %s", n, got, w)
		}
		if got := p.Delay(n, 0); got != w {
			t.Errorf("Delay(%d, 0) = %s, want %s", n, got, w)
		}
		if got, low := p.Delay(n, 0.999999), time.Duration(float64(w)*0.8); got < low || got > w {
			t.Errorf("Delay(%d, ~1) = %s, want within [%s, %s]", n, got, low, w)
		}
	}
	if got := p.Capped(0); got != time.Second {
		t.Errorf("Capped(0) = %s, want the base", got)
	}
	if got := p.Capped(1000); got != 10*time.Second {
		t.Errorf("Capped(1000) = %s, want the cap (no overflow)", got)
	}
}
