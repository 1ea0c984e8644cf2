// Package storetest is the contract every state store backend keeps (the
// bbolt file, state.Store, and PostgreSQL, pgstore.Store): run it from the
// backend's tests with Run.
package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/state"
)

// Store is what the contract exercises: state.Backend, whose doc comment
// states the contract Run checks.
type Store = state.Backend

// Location is one fresh, empty place for a store (a file, a schema).
type Location struct {
	// Open opens the store at the location; every call opens the same
	// location again.
	Open func() (Store, error)
	// MakeFuture marks the location's schema as version 99, newer than
	// this build knows; the store is closed when it is called.
	MakeFuture func() error
}

// Backend is one store implementation under test.
type Backend struct {
	// New returns a fresh location for one (sub)test.
	New func(t *testing.T) Location
	// ErrFutureSchema is the error Open wraps for a newer schema.
	ErrFutureSchema error
}

// Run runs the contract against b.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"UnknownKey", testUnknownKey},
		{"RoundTrip", testRoundTrip},
		{"Overwrite", testOverwrite},
		{"AllSortedByName", testAllSorted},
		{"AwkwardStrings", testAwkwardStrings},
		{"ConcurrentPuts", testConcurrentPuts},
		{"SurvivesReopen", testReopen},
		{"FutureSchemaRefused", testFutureSchema},
		{"AuditTrail", testAuditTrail},
		{"AuditTrailKeepsTheNewest", testAuditTrailBound},
		{"ConcurrentPutsKeepTheLastValue", testConcurrentPutsLastValue},
		{"CrashAtEveryFailpoint", testCrashAtEveryFailpoint},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, b) })
	}
}

// open opens a fresh location and closes the store when the test ends.
func open(t *testing.T, b Backend) (Store, Location) {
	t.Helper()
	loc := b.New(t)
	s, err := loc.Open()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, loc
}

func put(t *testing.T, s Store, k state.Key) {
	t.Helper()
	if err := s.Put(k); err != nil {
		t.Fatalf("put %s: %v", k.Name, err)
	}
}

// roundTrip puts want and checks that Get returns it as it was put.
func roundTrip(t *testing.T, s Store, want state.Key) {
	t.Helper()
	put(t, s, want)
	got, err := s.Get(want.Name)
	if err != nil {
		t.Fatalf("Get(%q): %v", want.Name, err)
	}
	equal(t, got, want)
}

// equal compares records as they are stored: through JSON, which drops
// monotonic clock readings and normalises time zones.
func equal(t *testing.T, got, want state.Key) {
	t.Helper()
	b, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	var norm state.Key
	if err := json.Unmarshal(b, &norm); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, norm) {
		t.Fatalf("record differs:\n got %+v\nwant %+v", got, norm)
	}
}

func testUnknownKey(t *testing.T, b Backend) {
	s, _ := open(t, b)
	k, err := s.Get("never-seen")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, k, state.Key{Name: "never-seen"})
	all, err := s.All()
	if err != nil || len(all) != 0 {
		t.Fatalf("All() = %v, %v; want no records", all, err)
	}
}

// full is a record with every field set.
func full(name string) state.Key {
	at := time.Date(2026, 5, 17, 10, 11, 12, 123456789, time.UTC)
	pk := state.ProviderKey{Provider: "smtpd", ID: "id-1", Name: "rotator-" + name + "-1", CreatedAt: at}
	return state.Key{
		Name:    name,
		Current: &pk,
		Rotation: &state.Rotation{
			ID: "8f7e0c3a-1111-4222-8333-944445555666", Step: state.StepCreated, Provider: "smtpd",
			KeyName: "rotator-" + name + "-2", KeyID: "id-2", CreatedAt: at.Add(time.Minute),
			StartedAt: at.Add(time.Second), Reason: "schedule",
			Versions: map[string]string{"vault:kv/app": "7", "file:/etc/app/key": "x"},
		},
		Retiring: []state.Retiring{{ProviderKey: pk, RevokeAfter: at.Add(time.Hour), Attempts: 2,
			NextAttemptAt: at.Add(2 * time.Hour), LastError: "503"}},
		LastSuccessAt: at, LastAttemptAt: at.Add(time.Second), Failures: 3,
		NextAttemptAt: at.Add(3 * time.Minute), LastError: "create: 500", LastErrorAt: at,
		Emergency: "rejected", LastKeepAliveAt: at, KeepAliveFailures: 1,
		KeepAliveRetryAt: at.Add(time.Minute), LastUsedAt: at.Add(-time.Hour), Rotations: 9,
		Watch: []state.Watched{{Provider: "smtpd", Name: "rotator-x", Since: at,
			NextCheckAt: at.Add(time.Minute), Until: at.Add(time.Hour)}},
		Paused: &state.Pause{At: at, Actor: "cli:ops", Reason: "incident"},
	}
}

func testRoundTrip(t *testing.T, b Backend) {
	s, _ := open(t, b)
	roundTrip(t, s, full("mail"))
}

func testOverwrite(t *testing.T, b Backend) {
	s, _ := open(t, b)
	put(t, s, full("mail"))
	want := state.Key{Name: "mail", Rotations: 10, LastError: "later"}
	roundTrip(t, s, want)
	all, err := s.All()
	if err != nil || len(all) != 1 {
		t.Fatalf("All() = %d records, %v; want 1", len(all), err)
	}
	equal(t, all[0], want)
}

func testAllSorted(t *testing.T, b Backend) {
	s, _ := open(t, b)
	// Byte order: upper case before "_" before lower case before UTF-8.
	names := []string{"zeta", "é-key", "Alpha", "_x", "alpha", "a-b", "a"}
	for _, n := range names {
		put(t, s, state.Key{Name: n, Rotations: len(n)})
	}
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range all {
		got = append(got, k.Name)
		if k.Rotations != len(k.Name) {
			t.Errorf("%s: Rotations = %d, want %d", k.Name, k.Rotations, len(k.Name))
		}
	}
	want := []string{"Alpha", "_x", "a", "a-b", "alpha", "zeta", "é-key"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("All() names = %q, want %q", got, want)
	}
}

// testAwkwardStrings: a provider's error message is stored as it came,
// NUL and all (PostgreSQL's jsonb would refuse \u0000).
func testAwkwardStrings(t *testing.T, b Backend) {
	s, _ := open(t, b)
	roundTrip(t, s, state.Key{Name: "mail", LastError: "bad \x00 byte, \"quotes\", back\\slash\nnewline, ümlaut, 🔑, \u2028"})
}

func testConcurrentPuts(t *testing.T, b Backend) {
	s, _ := open(t, b)
	const writers, each = 16, 8
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				k := full(fmt.Sprintf("k%02d-%d", w, i))
				k.Rotations = w*100 + i
				if err := s.Put(k); err != nil {
					errs <- err
				}
				if _, err := s.Get(k.Name); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers*each {
		t.Fatalf("All() = %d records, want %d", len(all), writers*each)
	}
	for _, k := range all {
		var w, i int
		if _, err := fmt.Sscanf(k.Name, "k%02d-%d", &w, &i); err != nil || k.Rotations != w*100+i {
			t.Fatalf("record %s: Rotations = %d (%v)", k.Name, k.Rotations, err)
		}
	}
}

func testReopen(t *testing.T, b Backend) {
	loc := b.New(t)
	s, err := loc.Open()
	if err != nil {
		t.Fatal(err)
	}
	want := full("mail")
	put(t, s, want)
	put(t, s, state.Key{Name: "other"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = loc.Open()
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	got, err := s.Get("mail")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, got, want)
	all, err := s.All()
	if err != nil || len(all) != 2 {
		t.Fatalf("All() after reopen = %d records, %v; want 2", len(all), err)
	}
}

func testFutureSchema(t *testing.T, b Backend) {
	loc := b.New(t)
	s, err := loc.Open()
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, state.Key{Name: "mail"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := loc.MakeFuture(); err != nil {
		t.Fatal(err)
	}
	s, err = loc.Open()
	if err == nil {
		s.Close()
		t.Fatal("a schema newer than this build was opened")
	}
	if !errors.Is(err, b.ErrFutureSchema) || !strings.Contains(err.Error(), "99") || !strings.Contains(err.Error(), "upgrade rotator") {
		t.Fatalf("err = %v; want %v naming version 99 and saying to upgrade", err, b.ErrFutureSchema)
	}
}
