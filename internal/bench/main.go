// Command bench measures what rotator costs: the wall time of a burst
// (--run-now over every key) against the floor of round trips no rotation
// can avoid, how closely the shared HTTP layer keeps to Emailit's rate
// limit, the real daemon's idle footprint with 10,000 keys, and the state
// file's size per key and per rotation. It runs the real engine, wired
// from a generated policy exactly as cmd/rotator wires it, against the
// provider test servers (smtpdtest, emailittest) and a file sink, and
// prints a Markdown report (docs/performance.md holds one).
//
//	go run ./internal/bench                       # the default set, a few minutes
//	go run ./internal/bench -burst '20ms:100,1000,10000' -phases burst
//
// It is a command, not a test: `go test ./...` never runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	var (
		phases      = flag.String("phases", "burst,ratelimit,state,idle", "comma-separated phases to run: burst, ratelimit, state, idle, backends (needs -pg-dsn), heap (profiling only)")
		burstSpec   = flag.String("burst", "0ms:100,1000;20ms:100,1000;100ms:100", "burst cells: latency:keys,keys;latency:keys... (10,000 keys: add 0ms:10000, ~6 more minutes)")
		providersF  = flag.String("providers", "smtpd,emailit", "providers for the burst: smtpd, emailit")
		concurrency = flag.Int("concurrency", 4, "max_concurrent of the engine and of the floor")
		noVerify    = flag.Bool("noverify", true, "also time the burst with Verify and Test answered locally (no verify or keep-alive round trips)")
		rlCalls     = flag.Int("ratelimit-calls", 60, "requests made in the rate-limit phase")
		rlRate      = flag.Float64("ratelimit-rate", 0, "client rate_limit in the rate-limit phase (0 = Emailit's default)")
		idleKeys    = flag.String("idle-keys", "100,1000,10000", "key counts of the idle daemon, each started on its own")
		idleFor     = flag.Duration("idle-for", 20*time.Second, "how long the idle daemon is watched")
		stateKeys   = flag.Int("state-keys", 20, "keys in the state phase")
		stateRounds = flag.Int("state-rotations", 100, "rotations per key in the state phase")
		stateGrowth = flag.String("state-growth", "100,1000,10000", "key counts whose state size is measured after one rotation")
		cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the whole run (engine and test servers share the process) here")
		heapProfile = flag.String("heapprofile", "", "with phase heap: write the in-process heap profile of an idle-keys daemon here")
		pgDSN       = flag.String("pg-dsn", os.Getenv("ROTATOR_TEST_PG_DSN"), "with phase backends: a PostgreSQL cluster (scripts/pg-test-cluster start DIR prints one)")
		backendKeys = flag.String("backend-keys", "100,1000", "with phase backends: key counts of the burst on bbolt and on PostgreSQL")
	)
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	want := map[string]bool{}
	for _, p := range strings.Split(*phases, ",") {
		want[strings.TrimSpace(p)] = true
	}
	out := os.Stdout
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(out, "# rotator bench\n\n%s, %d CPUs, %s; load average at start: %s\n\ncommand: `go run ./internal/bench %s`\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), runtime.Version(), strings.TrimSpace(string(load)),
		strings.Join(os.Args[1:], " "))
	failed := false
	fail := func(phase string, err error) {
		failed = true
		fmt.Fprintf(out, "\n**%s failed: %v**\n\n", phase, err)
	}

	if want["burst"] {
		cells, err := parseBurst(*burstSpec)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: -burst: %v\n", err)
			os.Exit(2)
		}
		fmt.Fprintf(out, "## Burst: --run-now over every key (grace 0s), max_concurrent %d\n\n", *concurrency)
		fmt.Fprintln(out, "| provider | keys | latency | engine | floor | ratio | ratio without verify | engine req/key | floor req/key |")
		fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|---|---|")
		for _, prov := range strings.Split(*providersF, ",") {
			for _, c := range cells {
				r, err := runBurst(ctx, strings.TrimSpace(prov), c.keys, c.latency, *concurrency, *noVerify)
				if err != nil {
					fail(fmt.Sprintf("burst %s %d keys %s", prov, c.keys, c.latency), err)
					continue
				}
				nv := "-"
				if *noVerify {
					nv = fmt.Sprintf("%.2f (%s)", r.ratioNoVerify(), round(r.NoVerify))
				}
				fmt.Fprintf(out, "| %s | %d | %s | %s | %s | %.2f | %s | %s | %s |\n", r.Provider, r.Keys, r.Latency,
					round(r.Engine), round(r.Floor), r.ratio(), nv, formatOps(r.EngineRequests), formatOps(r.FloorRequests))
			}
		}
		fmt.Fprintln(out)
	}
	if want["ratelimit"] {
		r, err := runRateLimit(ctx, *rlCalls, *rlRate)
		if err != nil {
			fail("ratelimit", err)
		} else {
			r.print(out)
		}
	}
	if want["backends"] {
		ns, err := keyCounts(*backendKeys)
		if err == nil {
			err = runBackends(ctx, out, *pgDSN, ns, []time.Duration{0, 20 * time.Millisecond}, *concurrency)
		}
		if err == nil {
			err = runIdle(ctx, out, ns, *idleFor, *pgDSN)
		}
		if err != nil {
			fail("backends", err)
		}
	}
	if want["state"] {
		if err := runState(ctx, out, *stateKeys, *stateRounds, *stateGrowth); err != nil {
			fail("state", err)
		}
	}
	idleCounts, err := keyCounts(*idleKeys)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: -idle-keys: %v\n", err)
		os.Exit(2)
	}
	if want["heap"] {
		path := *heapProfile
		if path == "" {
			path = "rotator-heap.pprof"
		}
		// The largest idle key count: the profile is for the footprint target.
		if err := runHeap(out, idleCounts[len(idleCounts)-1], path); err != nil {
			fail("heap", err)
		}
	}
	if want["idle"] {
		if err := runIdle(ctx, out, idleCounts, *idleFor); err != nil {
			fail("idle", err)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(out, "## Notes")
		fmt.Fprintln(out)
		var ns []string
		for n := range notes {
			ns = append(ns, n)
		}
		sort.Strings(ns)
		for _, n := range ns {
			fmt.Fprintf(out, "- %s\n", n)
		}
		fmt.Fprintln(out)
	}
	if failed {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

type burstCell struct {
	latency time.Duration
	keys    int
}

func parseBurst(spec string) ([]burstCell, error) {
	var cells []burstCell
	for _, group := range strings.Split(spec, ";") {
		lat, keys, ok := strings.Cut(strings.TrimSpace(group), ":")
		if !ok {
			return nil, fmt.Errorf("%q: want latency:keys[,keys...]", group)
		}
		d, err := time.ParseDuration(lat)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", group, err)
		}
		for _, k := range strings.Split(keys, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(k))
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("%q: %q is not a key count", group, k)
			}
			cells = append(cells, burstCell{latency: d, keys: n})
		}
	}
	return cells, nil
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d > time.Second:
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

// keyCounts parses "100,1000,10000".
func keyCounts(list string) ([]int, error) {
	var out []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a key count", s)
		}
		out = append(out, n)
	}
	return out, nil
}
