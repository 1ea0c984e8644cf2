package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// runState measures the state file: its size per key after one rotation
// of every key (for each count in growth), and whether it stays bounded
// while keys rotate rounds times each (grace 0, so every rotation also
// revokes the previous key and drops it from the record).
func runState(ctx context.Context, out io.Writer, keys, rounds int, growth string) error {
	fmt.Fprintf(out, "## State file\n\n")
	fmt.Fprintln(out, "| keys | file after 1 rotation each | bytes/key (file) | record JSON bytes/key |")
	fmt.Fprintln(out, "|---:|---:|---:|---:|")
	for _, s := range strings.Split(growth, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-state-growth: %q is not a key count", s)
		}
		size, rec, err := stateAfter(ctx, n, 1, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "| %d | %s | %d | %d |\n", n, bytesIEC(size), size/int64(n), rec/int64(n))
	}
	fmt.Fprintln(out)

	fmt.Fprintf(out, "%d keys rotated %d times each (grace 0s), file size after rotation r:\n\n", keys, rounds)
	fmt.Fprintln(out, "| rotations/key | file | bytes/key | record JSON bytes/key |")
	fmt.Fprintln(out, "|---:|---:|---:|---:|")
	marks := map[int]bool{1: true, 2: true, 10: true, rounds / 2: true, rounds: true}
	_, _, err := stateAfter(ctx, keys, rounds, func(r int, size, rec int64) {
		if marks[r] {
			fmt.Fprintf(out, "| %d | %s | %d | %d |\n", r, bytesIEC(size), size/int64(keys), rec/int64(keys))
		}
	})
	fmt.Fprintln(out)
	return err
}

// stateAfter rotates n keys rounds times and returns the state file's size
// and the total size of the records' JSON; each is also passed to
// progress after every round.
func stateAfter(ctx context.Context, n, rounds int, progress func(round int, size, rec int64)) (int64, int64, error) {
	w, err := newWorld(worldOptions{Provider: "smtpd", Keys: n, MaxConcurrent: 8, RateLimit: 1e6})
	if err != nil {
		return 0, 0, err
	}
	defer w.close()
	e, err := w.newEngine()
	if err != nil {
		return 0, 0, err
	}
	defer e.close()
	var size, rec int64
	for r := 1; r <= rounds; r++ {
		if err := runOnce(ctx, e); err != nil {
			return 0, 0, fmt.Errorf("rotation %d: %w", r, err)
		}
		fi, err := os.Stat(w.statePath())
		if err != nil {
			return 0, 0, err
		}
		size = fi.Size()
		all, err := e.store.All()
		if err != nil {
			return 0, 0, err
		}
		rec = 0
		for _, k := range all {
			b, _ := json.Marshal(k)
			rec += int64(len(b))
		}
		if progress != nil {
			progress(r, size, rec)
		}
	}
	return size, rec, nil
}

func bytesIEC(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
