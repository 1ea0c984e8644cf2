package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rotator-dev/rotator/internal/state"
)

// runIdle builds the real daemon binary once and, for each key count n,
// starts it on a policy of n keys whose state says every key was rotated
// and kept alive just now (so the nearest event is the first orphan scan,
// a minute after start), and measures: time from exec to /readyz
// answering 200, time until the start-up evaluation of every key is over
// (CPU stops moving), resident memory, and CPU time and context switches
// while idle for idleFor. One table, a column per key count.
func runIdle(ctx context.Context, out io.Writer, ns []int, idleFor time.Duration, dsns ...string) error {
	dir, err := os.MkdirTemp("", "rotator-bench-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "rotator")
	// Built as the Dockerfile builds the shipped binary: static, stripped.
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/rotator")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/rotator (run the bench from the module root): %w", err)
	}
	var results []idleResult
	for _, n := range ns {
		for _, dsn := range append([]string{""}, dsns...) {
			r, err := measureIdle(bin, n, idleFor, dsn)
			if err != nil {
				return fmt.Errorf("%d keys: %w", n, err)
			}
			results = append(results, r)
		}
	}
	writeIdleTable(out, results, idleFor)
	return nil
}

// writeIdleTable writes the idle phase's report: a column per daemon.
func writeIdleTable(out io.Writer, results []idleResult, idleFor time.Duration) {
	fmt.Fprintf(out, "## Idle daemon: the real binary (built as the Dockerfile does: CGO_ENABLED=0 go build -trimpath -ldflags=\"-s -w\" ./cmd/rotator), nothing due for a minute\n\n")
	fmt.Fprint(out, "| figure |")
	for _, r := range results {
		fmt.Fprintf(out, " %s |", r.label())
	}
	fmt.Fprint(out, " target |\n|---|")
	for range results {
		fmt.Fprint(out, "---:|")
	}
	fmt.Fprintln(out, "---:|")
	row := func(figure, target string, cell func(r idleResult) string) {
		fmt.Fprintf(out, "| %s |", figure)
		for _, r := range results {
			fmt.Fprintf(out, " %s |", cell(r))
		}
		fmt.Fprintf(out, " %s |\n", target)
	}
	row("start-up: exec to /readyz 200", "≤ 300ms (10,000 keys)", func(r idleResult) string { return r.ready.Round(time.Millisecond).String() })
	row("start-up evaluation of every key done (CPU quiet)", "", func(r idleResult) string { return r.settled.Round(10 * time.Millisecond).String() })
	row("CPU time used by start-up", "", func(r idleResult) string { return time.Duration(r.startupCPU).Round(time.Millisecond).String() })
	row("resident memory (VmRSS) idle", "≤ 40 MiB (10,000 keys)", func(r idleResult) string { return bytesIEC(r.rss) })
	row("of which anonymous (heap, stacks) + file-backed (binary, state file)", "", func(r idleResult) string {
		return bytesIEC(r.rssAnon) + " + " + bytesIEC(r.rssFile)
	})
	row("file-backed: the binary + the state file's mapped pages", "", func(r idleResult) string {
		return bytesIEC(r.rssBinary) + " + " + bytesIEC(r.rssState)
	})
	row("Go heap: allocated objects / spans in use (go_memstats at the scrape)", "", func(r idleResult) string {
		return bytesIEC(r.goHeap.alloc) + " / " + bytesIEC(r.goHeap.inuse)
	})
	row("peak resident memory (VmHWM)", "", func(r idleResult) string { return bytesIEC(r.hwm) })
	row("resident memory after one /metrics scrape", "", func(r idleResult) string { return bytesIEC(r.rssAfterScrape) })
	row("/metrics size (uncompressed), time", "", func(r idleResult) string {
		return bytesIEC(r.metricsBytes) + ", " + r.metricsTook.Round(time.Millisecond).String()
	})
	row("threads", "", func(r idleResult) string { return strconv.Itoa(r.threads) })
	row(fmt.Sprintf("idle CPU over %s", idleFor), "≤ 0.1%", func(r idleResult) string {
		return fmt.Sprintf("%.4f%% (%s)", r.idleCPU, r.idleCPUTime.Round(time.Microsecond))
	})
	row("context switches while idle (all threads)", "nearest event: 1 min", func(r idleResult) string {
		return fmt.Sprintf("%.2f/s (%d)", r.wakeups, r.switches)
	})
	fmt.Fprintln(out)
}

// idleResult is what measureIdle saw of one daemon.
type idleResult struct {
	keys                                       int
	postgres                                   bool
	ready, settled, metricsTook, idleCPUTime   time.Duration
	startupCPU                                 int64
	rss, rssAnon, rssFile, hwm, rssAfterScrape int64
	rssBinary, rssState                        int64
	goHeap                                     goHeap
	metricsBytes                               int64
	threads                                    int
	idleCPU, wakeups                           float64
	switches                                   int64
}

func measureIdle(bin string, n int, idleFor time.Duration, dsn string) (idleResult, error) {
	res := idleResult{keys: n, postgres: dsn != ""}
	port, err := freePort()
	if err != nil {
		return res, err
	}
	w, err := newWorld(worldOptions{Provider: "smtpd", Keys: n, MaxConcurrent: 4, Listen: fmt.Sprintf("127.0.0.1:%d", port), DSN: dsn})
	if err != nil {
		return res, err
	}
	defer w.close()
	if err := seedState(w, n); err != nil {
		return res, fmt.Errorf("seed state: %w", err)
	}
	d, err := startDaemon(bin, w, port)
	if err != nil {
		return res, err
	}
	defer d.stop()
	if res.ready, err = d.waitReady(); err != nil {
		return res, err
	}
	if res.settled, res.startupCPU, err = d.waitSettled(); err != nil {
		return res, err
	}

	cpu0, _ := cpuNanos(d.pid)
	sw0, _ := switches(d.pid)
	time.Sleep(idleFor)
	cpu1, err := cpuNanos(d.pid)
	if err != nil {
		return res, err
	}
	sw1, _ := switches(d.pid)
	res.idleCPU, res.idleCPUTime = float64(cpu1-cpu0)/float64(idleFor.Nanoseconds())*100, time.Duration(cpu1-cpu0)
	res.wakeups, res.switches = float64(sw1-sw0)/idleFor.Seconds(), sw1-sw0
	res.rss, res.hwm, res.threads = procStatus(d.pid)
	fields := procStatusFields(d.pid)
	res.rssAnon, res.rssFile = fields["RssAnon"], fields["RssFile"]
	res.rssBinary, res.rssState = mappedRSS(d.pid, bin), mappedRSS(d.pid, w.statePath())

	// One scrape after the idle window, to size /metrics; the Go runtime's
	// figures in it are read before the per-key series are written, so they
	// are the idle daemon's.
	res.metricsBytes, res.metricsTook, res.goHeap = scrapeMetrics(port)
	res.rssAfterScrape, _, _ = procStatus(d.pid)
	return res, nil
}

// daemon is the real binary, running on a world's policy.
type daemon struct {
	// start is just before exec.
	start time.Time
	cmd   *exec.Cmd
	pid   int
	port  int
	log   string
	once  sync.Once
}

func startDaemon(bin string, w *world, port int) (*daemon, error) {
	logf, err := os.Create(filepath.Join(w.dir, "daemon.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(bin, "--config", w.cfgPath, "--log-format", "json")
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return &daemon{start: start, cmd: cmd, pid: cmd.Process.Pid, port: port, log: logf.Name()}, nil
}

// stop interrupts the daemon, and kills it after 10 s.
func (d *daemon) stop() {
	d.once.Do(func() {
		_ = d.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
			<-done
		}
	})
}

// waitReady polls /readyz and returns the time from exec to its first 200.
func (d *daemon) waitReady() (time.Duration, error) {
	start := d.start
	readyURL := fmt.Sprintf("http://127.0.0.1:%d/readyz", d.port)
	client := &http.Client{Timeout: time.Second}
	for time.Since(start) < time.Minute {
		resp, err := client.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return 0, fmt.Errorf("no 200 from /readyz within a minute (log: %s)", d.log)
}

// waitSettled waits for the start-up evaluation of every key, which runs
// after /readyz: it is over when the CPU time stops moving for a second.
// It returns when that was (from exec) and the CPU time used so far.
func (d *daemon) waitSettled() (settled time.Duration, cpu int64, err error) {
	start := d.start
	last, _ := cpuNanos(d.pid)
	for quiet := 0; quiet < 10; {
		time.Sleep(100 * time.Millisecond)
		now, err := cpuNanos(d.pid)
		if err != nil {
			return 0, 0, err
		}
		if now-last < int64(time.Millisecond) {
			quiet++
		} else {
			quiet = 0
			settled = time.Since(start)
		}
		last = now
		if time.Since(start) > 50*time.Second {
			return 0, 0, fmt.Errorf("the daemon did not settle within 50s")
		}
	}
	return settled, last, nil
}

// scrapeMetrics reads /metrics once: its size, how long it took, and the
// Go runtime's heap figures in it.
func scrapeMetrics(port int) (size int64, took time.Duration, heap goHeap) {
	start := time.Now()
	resp, err := (&http.Client{Timeout: time.Minute}).Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return 0, 0, heap
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		size += int64(len(line)) + 1
		if name, v, ok := strings.Cut(line, " "); ok && strings.HasPrefix(name, "go_memstats_heap_") {
			f, _ := strconv.ParseFloat(v, 64)
			switch name {
			case "go_memstats_heap_alloc_bytes":
				heap.alloc = int64(f)
			case "go_memstats_heap_inuse_bytes":
				heap.inuse = int64(f)
			}
		}
	}
	return size, time.Since(start), heap
}

// goHeap is the Go heap of the idle daemon: allocated objects, and the
// spans in use that hold them (the difference: free slots between them).
type goHeap struct{ alloc, inuse int64 }

// mappedRSS is the resident size of pid's mappings of the file path.
func mappedRSS(pid int, path string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return 0
	}
	var total int64
	var in bool
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 5 && strings.Contains(f[0], "-") && !strings.HasSuffix(f[0], ":"):
			in = len(f) >= 6 && f[5] == path
		case in && len(f) >= 2 && f[0] == "Rss:":
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			total += kb << 10
		}
	}
	return total
}

// seedState writes a record per key saying it was rotated and kept alive
// just now, so that nothing is due when the daemon starts, with the
// targets the engine records (as after a daemon's first start: otherwise
// the start-up pass would rewrite every record). Puts run concurrently so
// that the store batches them.
func seedState(w *world, n int) error {
	st, err := w.seedStore()
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now().UTC()
	sem := make(chan struct{}, 256)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i := 0; i < n; i++ {
		name := keyName(i)
		rec := state.Key{Name: name, Current: &state.ProviderKey{Provider: "p", ID: fmt.Sprintf("id-%d", i),
			Name: "rotator-" + name + "-" + now.Format("20060102T150405Z") + "-seed00", CreatedAt: now},
			LastSuccessAt: now, LastAttemptAt: now, LastKeepAliveAt: now, LastUsedAt: now, Rotations: 1,
			Targets: []state.Target{{Sink: "out", Target: "file " + filepath.Join(w.dir, "out", name+".env"),
				Spec: `{"format":"env","path":"` + name + `.env"}`}}}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := st.Put(rec); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return first
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// cpuNanos is the CPU time of every thread of pid, from schedstat (ns).
func cpuNanos(pid int) (int64, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) > 0 {
			v, _ := strconv.ParseInt(f[0], 10, 64)
			total += v
		}
	}
	return total, nil
}

// switches is the number of context switches of every thread of pid.
func switches(pid int) (int64, error) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, err
	}
	var total int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && (k == "voluntary_ctxt_switches" || k == "nonvoluntary_ctxt_switches") {
				n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				total += n
			}
		}
	}
	return total, nil
}

// procStatus returns VmRSS and VmHWM in bytes, and the thread count.
func procStatus(pid int) (rss, hwm int64, threads int) {
	m := procStatusFields(pid)
	return m["VmRSS"], m["VmHWM"], int(m["Threads"])
}

// procStatusFields returns the numeric fields of /proc/pid/status, sizes
// (kB in the file) in bytes.
func procStatusFields(pid int) map[string]int64 {
	m := map[string]int64{}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(f[0], 10, 64)
		if len(f) > 1 && f[1] == "kB" {
			n <<= 10
		}
		m[k] = n
	}
	return m
}
