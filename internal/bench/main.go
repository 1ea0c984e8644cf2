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
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"
)

// options are bench's command-line flags.
type options struct {
	phases      string
	burstSpec   string
	providers   string
	concurrency int
	noVerify    bool
	rlCalls     int
	rlRate      float64
	idleKeys    string
	idleFor     time.Duration
	stateKeys   int
	stateRounds int
	stateGrowth string
	cpuProfile  string
	heapProfile string
	pgDSN       string
	backendKeys string
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.phases, "phases", "burst,ratelimit,state,idle", "comma-separated phases to run: burst, ratelimit, state, idle, backends (needs -pg-dsn), heap (profiling only)")
	flag.StringVar(&o.burstSpec, "burst", "0ms:100,1000;20ms:100,1000;100ms:100", "burst cells: latency:keys,keys;latency:keys... (10,000 keys: add 0ms:10000, ~6 more minutes)")
	flag.StringVar(&o.providers, "providers", "smtpd,emailit", "providers for the burst: smtpd, emailit")
	flag.IntVar(&o.concurrency, "concurrency", 4, "max_concurrent of the engine and of the floor")
	flag.BoolVar(&o.noVerify, "noverify", true, "also time the burst with Verify and Test answered locally (no verify or keep-alive round trips)")
	flag.IntVar(&o.rlCalls, "ratelimit-calls", 60, "requests made in the rate-limit phase")
	flag.Float64Var(&o.rlRate, "ratelimit-rate", 0, "client rate_limit in the rate-limit phase (0 = Emailit's default)")
	flag.StringVar(&o.idleKeys, "idle-keys", "100,1000,10000", "key counts of the idle daemon, each started on its own")
	flag.DurationVar(&o.idleFor, "idle-for", 20*time.Second, "how long the idle daemon is watched")
	flag.IntVar(&o.stateKeys, "state-keys", 20, "keys in the state phase")
	flag.IntVar(&o.stateRounds, "state-rotations", 100, "rotations per key in the state phase")
	flag.StringVar(&o.stateGrowth, "state-growth", "100,1000,10000", "key counts whose state size is measured after one rotation")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (engine and test servers share the process) here")
	flag.StringVar(&o.heapProfile, "heapprofile", "", "with phase heap: write the in-process heap profile of an idle-keys daemon here")
	flag.StringVar(&o.pgDSN, "pg-dsn", os.Getenv("ROTATOR_TEST_PG_DSN"), "with phase backends: a PostgreSQL cluster (scripts/pg-test-cluster start DIR prints one)")
	flag.StringVar(&o.backendKeys, "backend-keys", "100,1000", "with phase backends: key counts of the burst on bbolt and on PostgreSQL")
	flag.Parse()
	return o
}

// report is the Markdown report being written, and whether a phase failed.
type report struct {
	out    io.Writer
	failed bool
}

func (r *report) fail(phase string, err error) {
	r.failed = true
	fmt.Fprintf(r.out, "\n**%s failed: %v**\n\n", phase, err)
}

func main() {
	o := parseFlags()
	if o.cpuProfile != "" {
		startCPUProfile(o.cpuProfile)
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	want := map[string]bool{}
	for _, p := range strings.Split(o.phases, ",") {
		want[strings.TrimSpace(p)] = true
	}
	r := &report{out: os.Stdout}
	r.header()

	if want["burst"] {
		r.burst(ctx, o)
	}
	if want["ratelimit"] {
		res, err := runRateLimit(ctx, o.rlCalls, o.rlRate)
		if err != nil {
			r.fail("ratelimit", err)
		} else {
			res.print(r.out)
		}
	}
	if want["backends"] {
		r.backends(ctx, o)
	}
	if want["state"] {
		if err := runState(ctx, r.out, o.stateKeys, o.stateRounds, o.stateGrowth); err != nil {
			r.fail("state", err)
		}
	}
	idleCounts, err := keyCounts(o.idleKeys)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: -idle-keys: %v\n", err)
		os.Exit(2)
	}
	if want["heap"] {
		path := o.heapProfile
		if path == "" {
			path = "rotator-heap.pprof"
		}
		// The largest idle key count: the profile is for the footprint target.
		if err := runHeap(r.out, idleCounts[len(idleCounts)-1], path); err != nil {
			r.fail("heap", err)
		}
	}
	if want["idle"] {
		if err := runIdle(ctx, r.out, idleCounts, o.idleFor); err != nil {
			r.fail("idle", err)
		}
	}
	r.printNotes()
	if r.failed {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// startCPUProfile starts a CPU profile written to path, or exits.
func startCPUProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
}

// header writes the report's title: the machine, the Go version and the
// command line.
func (r *report) header() {
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(r.out, "# rotator bench\n\n%s, %d CPUs, %s; load average at start: %s\n\ncommand: `go run ./internal/bench %s`\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), runtime.Version(), strings.TrimSpace(string(load)),
		strings.Join(os.Args[1:], " "))
}

// burst runs the burst phase: each provider × cell, engine against floor.
func (r *report) burst(ctx context.Context, o options) {
	cells, err := parseBurst(o.burstSpec)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: -burst: %v\n", err)
		os.Exit(2)
	}
	out := r.out
	fmt.Fprintf(out, "## Burst: --run-now over every key (grace 0s), max_concurrent %d\n\n", o.concurrency)
	fmt.Fprintln(out, "| provider | keys | latency | engine | floor | ratio | ratio without verify | engine req/key | floor req/key |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|---:|---:|---|---|")
	for _, prov := range strings.Split(o.providers, ",") {
		for _, c := range cells {
			res, err := runBurst(ctx, strings.TrimSpace(prov), c.keys, c.latency, o.concurrency, o.noVerify)
			if err != nil {
				r.fail(fmt.Sprintf("burst %s %d keys %s", prov, c.keys, c.latency), err)
				continue
			}
			nv := "-"
			if o.noVerify {
				nv = fmt.Sprintf("%.2f (%s)", res.ratioNoVerify(), round(res.NoVerify))
			}
			fmt.Fprintf(out, "| %s | %d | %s | %s | %s | %.2f | %s | %s | %s |\n", res.Provider, res.Keys, res.Latency,
				round(res.Engine), round(res.Floor), res.ratio(), nv, formatOps(res.EngineRequests), formatOps(res.FloorRequests))
		}
	}
	fmt.Fprintln(out)
}

// backends runs the backends phase: the burst, then the idle daemon, on
// bbolt and on PostgreSQL.
func (r *report) backends(ctx context.Context, o options) {
	ns, err := keyCounts(o.backendKeys)
	if err == nil {
		err = runBackends(ctx, r.out, o.pgDSN, ns, []time.Duration{0, 20 * time.Millisecond}, o.concurrency)
	}
	if err == nil {
		err = runIdle(ctx, r.out, ns, o.idleFor, o.pgDSN)
	}
	if err != nil {
		r.fail("backends", err)
	}
}

// printNotes writes the notes the phases left, sorted.
func (r *report) printNotes() {
	if len(notes) == 0 {
		return
	}
	fmt.Fprintln(r.out, "## Notes")
	fmt.Fprintln(r.out)
	var ns []string
	for n := range notes {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	for _, n := range ns {
		fmt.Fprintf(r.out, "- %s\n", n)
	}
	fmt.Fprintln(r.out)
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
