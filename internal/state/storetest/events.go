package storetest

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/state"
)

func events(t *testing.T, s Store, key string, since time.Time) []state.Event {
	t.Helper()
	evs, err := s.Events(key, since)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// testAuditTrail: events come back whole, oldest first (then by key, then
// as appended), of one key or all, from a time on, after a reopen too.
func testAuditTrail(t *testing.T, b Backend) {
	loc := b.New(t)
	s, err := loc.Open()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 5, 17, 10, 0, 0, 1, time.UTC)
	in := []state.Event{
		{Time: at.Add(2 * time.Second), Key: "b", Action: "created", Actor: "schedule", Reason: "schedule", Result: "ok", KeyID: "id-2", OldKeyIDs: []string{"id-1"}},
		{Time: at, Key: "b", Action: "rotation_started", Actor: "cli:ops", Reason: "operator", Result: "ok", Note: "ticket 42"},
		{Time: at.Add(2 * time.Second), Key: "a", Action: "revoked", Actor: "schedule", Reason: "schedule", Result: "failed", Error: "503 \x00"},
		{Time: at.Add(2 * time.Second), Key: "a", Action: "revoked", Actor: "schedule", Reason: "schedule", Result: "ok"},
		{Time: at.Add(time.Nanosecond), Key: "a", Action: "paused", Actor: "http:ci", Result: "ok"},
	}
	for _, ev := range in {
		if err := s.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	want := []state.Event{in[1], in[4], in[2], in[3], in[0]}
	if got := events(t, s, "", time.Time{}); !reflect.DeepEqual(got, want) {
		t.Fatalf("Events(all):\n got %+v\nwant %+v", got, want)
	}
	if got := events(t, s, "a", time.Time{}); !reflect.DeepEqual(got, []state.Event{in[4], in[2], in[3]}) {
		t.Fatalf("Events(a) = %+v", got)
	}
	// since is inclusive, to the nanosecond.
	if got := events(t, s, "", at.Add(time.Nanosecond)); !reflect.DeepEqual(got, want[1:]) {
		t.Fatalf("Events(since +1ns) = %+v", got)
	}
	if got := events(t, s, "none", time.Time{}); len(got) != 0 {
		t.Fatalf("Events of a key without events = %+v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = loc.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := events(t, s, "", time.Time{}); !reflect.DeepEqual(got, want) {
		t.Fatalf("Events after reopen = %+v", got)
	}
}

// testAuditTrailBound: each key keeps its newest state.DefaultHistory
// events; another key's trail is untouched.
func testAuditTrailBound(t *testing.T, b Backend) {
	s, _ := open(t, b)
	at := time.Date(2026, 5, 17, 10, 0, 0, 0, time.UTC)
	if err := s.Append(state.Event{Time: at, Key: "other", Action: "created"}); err != nil {
		t.Fatal(err)
	}
	const n = state.DefaultHistory + 5
	for i := range n {
		ev := state.Event{Time: at.Add(time.Duration(i) * time.Second), Key: "k", Action: "keepalive", Note: strconv.Itoa(i)}
		if err := s.Append(ev); err != nil {
			t.Fatal(err)
		}
	}
	got := events(t, s, "k", time.Time{})
	if len(got) != state.DefaultHistory || got[0].Note != "5" || got[len(got)-1].Note != strconv.Itoa(n-1) {
		first, last := "", ""
		if len(got) > 0 {
			first, last = got[0].Note, got[len(got)-1].Note
		}
		t.Fatalf("%d events kept, %s..%s; want the newest %d, 5..%d", len(got), first, last, state.DefaultHistory, n-1)
	}
	if other := events(t, s, "other", time.Time{}); len(other) != 1 {
		t.Fatalf("the other key's trail: %+v", other)
	}
}
