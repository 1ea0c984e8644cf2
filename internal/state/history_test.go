package state

import (
	"path/filepath"
	"testing"
	"time"
)

func TestEventsAreKeptPerKeyAndBounded(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range DefaultHistory + 50 {
		if err := s.Append(Event{Time: t0.Add(time.Duration(i) * time.Second), Key: "a", Action: "keepalive", Result: "ok"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Append(Event{Time: t0.Add(30 * time.Second), Key: "b", Action: "paused", Actor: "cli:ops", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	a, err := s.Events("a", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != DefaultHistory || !a[0].Time.Equal(t0.Add(50*time.Second)) {
		t.Fatalf("key a: %d events from %s, want the newest %d (from t0+50s)", len(a), a[0].Time, DefaultHistory)
	}
	all, err := s.Events("", t0.Add(240*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 10 {
		t.Fatalf("since t0+240s: %d events, want 10", len(all))
	}
	b, _ := s.Events("b", time.Time{})
	if len(b) != 1 || b[0].Actor != "cli:ops" {
		t.Fatalf("key b: %+v", b)
	}
}
