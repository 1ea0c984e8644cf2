//go:build linux

package state

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// mappedKiB is the resident size of this process's mapping of path, from
// /proc/self/smaps.
func mappedKiB(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	in, total := false, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			in = fields[len(fields)-1] == path
		case in && len(fields) == 3 && fields[0] == "Rss:":
			n, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatal(err)
			}
			total += n
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}

func TestReleasePagesGivesBackWhatTheReadsMapped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for i := range 400 {
		wg.Go(func() {
			k := Key{Name: fmt.Sprintf("key-%03d", i), Current: &ProviderKey{Provider: "p", ID: strconv.Itoa(i),
				Name: strings.Repeat("n", 800), CreatedAt: now}}
			errs <- s.Put(k)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	before, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	read := mappedKiB(t, path)
	if read < 200 {
		t.Fatalf("reading 400 records of ~1 KB mapped %d KiB of %s; the test cannot see a release", read, path)
	}
	if err := s.ReleasePages(); err != nil {
		t.Fatalf("ReleasePages: %v", err)
	}
	if left := mappedKiB(t, path); left > 16 {
		t.Errorf("after ReleasePages %d KiB of the state file are still mapped (%d before)", left, read)
	}
	after, err := s.All()
	if err != nil {
		t.Fatalf("All after ReleasePages: %v", err)
	}
	if len(after) != len(before) || after[399].Current.ID != before[399].Current.ID || after[0].Current.Name != before[0].Current.Name {
		t.Errorf("records read after ReleasePages differ: %d, want %d", len(after), len(before))
	}
	if err := s.Put(Key{Name: "key-000", Failures: 1}); err != nil {
		t.Fatalf("Put after ReleasePages: %v", err)
	}
	if k, err := s.Get("key-000"); err != nil || k.Failures != 1 {
		t.Errorf("Get after Put after ReleasePages: %+v, %v", k, err)
	}
}
