package state

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// corruptSeed fixes the corruptions; -corrupt.seed explores others (the
// test logs the seed).
var corruptSeed = flag.Uint64("corrupt.seed", 20261203, "seed of TestCorruptionIsDetectedOrHarmless")

// TestCorruptionIsDetectedOrHarmless writes a real state file of 300
// records (several leaf pages under a branch page), then flips one byte at
// 400 random offsets of its data pages (every page but the two meta
// pages, which bbolt checksums itself), one corruption per copy. Each copy
// must either be refused at open with ErrCorrupt, or read back exactly the
// original records, by All and by Get; nothing may panic or crash. Before
// the checks, 343 of 400 such corruptions were read silently and 3
// panicked (one SIGSEGV in All).
func TestCorruptionIsDetectedOrHarmless(t *testing.T) {
	dir := t.TempDir()
	orig := filepath.Join(dir, "state.db")
	want, used := writeRecords(t, orig, 300)
	clean, err := os.ReadFile(orig)
	if err != nil {
		t.Fatal(err)
	}
	ps := os.Getpagesize()
	t.Logf("seed %d; file %d bytes, pages 2 to %d of %d bytes in use", *corruptSeed, len(clean), used/ps-1, ps)
	rng := rand.New(rand.NewPCG(*corruptSeed, 0))
	var detected, harmless int
	reasons := map[string]int{}
	for i := range 400 {
		off := 2*ps + rng.IntN(used-2*ps)
		b := append([]byte(nil), clean...)
		b[off] ^= byte(1 + rng.IntN(255))
		path := filepath.Join(dir, fmt.Sprintf("c%03d.db", i))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		for _, ro := range []bool{true, false} {
			what := fmt.Sprintf("corruption %d (offset %d, page %d, read-only %v)", i, off, off/ps, ro)
			got, err := readAll(path, ro, want)
			switch {
			case err == nil:
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s: opened and read records that differ from the original", what)
				}
				harmless++
			case errors.Is(err, ErrCorrupt):
				detected++
				msg := err.Error()
				if !strings.Contains(msg, "restore it from a backup or rebuild it with `rotator state rebuild") || !strings.Contains(msg, path) {
					t.Errorf("%s: the error does not say which file and what to do: %v", what, err)
				}
				reason, _, _ := strings.Cut(strings.TrimPrefix(msg, "open state "+path+": state file is corrupt ("), " ")
				if reasons[reason]++; reasons[reason] == 1 {
					t.Logf("%s: first of its kind: %v", what, err)
				}
			default:
				t.Errorf("%s: %v, want nil or ErrCorrupt", what, err)
			}
		}
		os.Remove(path)
	}
	t.Logf("800 opens of 400 corrupt copies: %d refused as corrupt, %d harmless (reads equal the original); reasons %v", detected, harmless, reasons)
}

// writeRecords fills a new state file with n varied records; it returns
// them and the size of the file's pages in use (bbolt's high-water mark).
func writeRecords(t *testing.T, path string, n int) ([]Key, int) {
	t.Helper()
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 12, 3, 4, 5, 6, 0, time.UTC)
	var want []Key
	for i := range n {
		k := Key{Name: fmt.Sprintf("key-%04d", i), Rotations: i, LastSuccessAt: now.Add(time.Duration(i) * time.Minute),
			Current: &ProviderKey{Provider: "smtpd", ID: fmt.Sprintf("id-%d", i*7919), Name: fmt.Sprintf("rotator-key-%d", i), CreatedAt: now}}
		if i%3 == 0 {
			k.Retiring = []Retiring{{ProviderKey: ProviderKey{Provider: "smtpd", ID: fmt.Sprintf("old-%d", i)}, RevokeAfter: now}}
		}
		if err := s.Put(k); err != nil {
			t.Fatal(err)
		}
		want = append(want, k)
	}
	var used int64
	if err := s.db.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	return want, int(used)
}

// readAll opens the file and reads every record with All and with Get.
func readAll(path string, readOnly bool, want []Key) ([]Key, error) {
	s, err := Open(path, Options{ReadOnly: readOnly})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	all, err := s.All()
	if err != nil {
		return nil, err
	}
	for i, w := range want {
		k, err := s.Get(w.Name)
		if err != nil {
			return nil, err
		}
		if !reflect.DeepEqual(k, w) && i < len(all) {
			all[i] = k // makes the comparison fail
		}
	}
	return all, nil
}
