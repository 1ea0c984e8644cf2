package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
)

// rateRow is one client rate against emailittest's 2/s sliding window.
type rateRow struct {
	ClientRate float64 // 0 = the provider's default
	Calls      int
	Wall       time.Duration
	// Steady is the achieved rate from the first to the last request start.
	Steady  float64
	Served  int // requests the server answered 2xx
	Refused int // 429s the server sent
	// Late429 counts 429s in the second half of the run, after the client
	// had time to learn; Late is the rate served in that half.
	Late429 int
	Late    float64
}

type rateResult struct {
	Limit float64
	Rows  []rateRow
}

// runRateLimit makes calls Get requests through the wired Emailit provider
// (its shared httpapi client and rate limit) from 4 goroutines against
// emailittest limiting to 2 requests per second, for the provider's
// default client rate and for exactly the server's rate (or rate, when
// set).
func runRateLimit(ctx context.Context, calls int, rate float64) (rateResult, error) {
	res := rateResult{Limit: 2}
	rates := []float64{0, 2}
	if rate > 0 {
		rates = []float64{rate}
	}
	for _, r := range rates {
		row, err := rateOnce(ctx, calls, r)
		if err != nil {
			return res, err
		}
		res.Rows = append(res.Rows, row)
	}
	return res, nil
}

func rateOnce(ctx context.Context, calls int, rate float64) (rateRow, error) {
	row := rateRow{ClientRate: rate, Calls: calls}
	w, err := newWorld(worldOptions{Provider: "emailit", Keys: 1, MaxConcurrent: 4, RateLimit: rate, ServerRateLimit: 2})
	if err != nil {
		return row, err
	}
	defer w.close()
	e, err := w.newEngine()
	if err != nil {
		return row, err
	}
	defer e.close()
	p := e.built.Providers["p"]
	id := w.emailit.CreateKey("bench-target", "sending").ID

	type done struct {
		at      time.Time
		refused int // 429s the server had sent by then
	}
	var mu sync.Mutex
	var ends []done
	var errs []error
	next := make(chan int, calls)
	for i := 0; i < calls; i++ {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	start := time.Now()
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				_, err := p.Get(ctx, id)
				d := done{at: time.Now(), refused: w.emailit.RateLimited()}
				mu.Lock()
				ends = append(ends, d)
				if err != nil {
					errs = append(errs, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	row.Wall = time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return row, fmt.Errorf("rate limit at %g/s: %w", rate, err)
	}
	sort.Slice(ends, func(i, j int) bool { return ends[i].at.Before(ends[j].at) })
	row.Refused = w.emailit.RateLimited()
	row.Served = w.requests()[emailittest.OpGet] - row.Refused
	// Requests served per second, over the run and over its second half
	// (from the median completion to the last).
	row.Steady = float64(row.Served-1) / row.Wall.Seconds()
	mid, last := ends[len(ends)/2], ends[len(ends)-1]
	row.Late = float64(len(ends)-1-len(ends)/2) / last.at.Sub(mid.at).Seconds()
	row.Late429 = row.Refused - mid.refused
	return row, nil
}

func (r rateResult) print(out io.Writer) {
	fmt.Fprintf(out, "## Rate limit: emailittest at %g requests/s (1 s sliding window), 4 concurrent callers\n\n", r.Limit)
	fmt.Fprintln(out, "| client rate_limit | calls | wall | served/s | vs limit | 429s | 2nd half: served/s | vs limit | 429s |")
	fmt.Fprintln(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, row := range r.Rows {
		rate := "default"
		if row.ClientRate > 0 {
			rate = fmt.Sprintf("%g", row.ClientRate)
		}
		fmt.Fprintf(out, "| %s | %d | %s | %.3f | %+.1f%% | %d | %.3f | %+.1f%% | %d |\n", rate, row.Calls, round(row.Wall), row.Steady,
			(row.Steady/r.Limit-1)*100, row.Refused, row.Late, (row.Late/r.Limit-1)*100, row.Late429)
	}
	fmt.Fprintln(out)
}
