package main

import (
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
	return nil
}

// idleResult is what measureIdle saw of one daemon.
type idleResult struct {
	keys                                       int
	postgres                                   bool
	ready, settled, metricsTook, idleCPUTime   time.Duration
	startupCPU                                 int64
	rss, rssAnon, rssFile, hwm, rssAfterScrape int64
	metricsBytes                               int64
	threads                                    int
	idleCPU, wakeups                           float64
	switches                                   int64
}

func measureIdle(bin string, n int, idleFor time.Duration, dsn string) (idleResult, error) {
	var res idleResult
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
	logf, err := os.Create(filepath.Join(w.dir, "daemon.log"))
	if err != nil {
		return res, err
	}
	defer logf.Close()

	cmd := exec.Command(bin, "--config", w.cfgPath, "--log-format", "json")
	cmd.Stdout, cmd.Stderr = logf, logf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return res, err
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(os.Interrupt)
			done := make(chan struct{})
			go func() { _ = cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		})
	}
	defer stop()
	pid := cmd.Process.Pid

	readyURL := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	client := &http.Client{Timeout: time.Second}
	var ready time.Duration
	for {
		if time.Since(start) > time.Minute {
			return res, fmt.Errorf("no 200 from /readyz within a minute (log: %s)", logf.Name())
		}
		resp, err := client.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				ready = time.Since(start)
				break
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	// The start-up evaluation of every key runs after /readyz: it is over
	// when the CPU time stops moving for a second.
	var settled time.Duration
	last, _ := cpuNanos(pid)
	quiet := 0
	for quiet < 10 {
		time.Sleep(100 * time.Millisecond)
		now, err := cpuNanos(pid)
		if err != nil {
			return res, err
		}
		if now-last < int64(time.Millisecond) {
			quiet++
		} else {
			quiet = 0
			settled = time.Since(start)
		}
		last = now
		if time.Since(start) > 50*time.Second {
			return res, fmt.Errorf("the daemon did not settle within 50s")
		}
	}
	startupCPU := last

	cpu0, _ := cpuNanos(pid)
	sw0, _ := switches(pid)
	time.Sleep(idleFor)
	cpu1, err := cpuNanos(pid)
	if err != nil {
		return res, err
	}
	sw1, _ := switches(pid)
	rss, hwm, threads := procStatus(pid)
	fields := procStatusFields(pid)

	// One scrape after the idle window, to size /metrics.
	mstart := time.Now()
	scrape := &http.Client{Timeout: time.Minute}
	resp, err := scrape.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	var metricsBytes int64
	var metricsTook time.Duration
	if err == nil {
		metricsBytes, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		metricsTook = time.Since(mstart)
	}
	rssAfterScrape, _, _ := procStatus(pid)
	stop()

	return idleResult{keys: n, postgres: dsn != "", ready: ready, settled: settled, startupCPU: startupCPU,
		rss: rss, rssAnon: fields["RssAnon"], rssFile: fields["RssFile"], hwm: hwm, rssAfterScrape: rssAfterScrape,
		metricsBytes: metricsBytes, metricsTook: metricsTook, threads: threads,
		idleCPU: float64(cpu1-cpu0) / float64(idleFor.Nanoseconds()) * 100, idleCPUTime: time.Duration(cpu1 - cpu0),
		wakeups: float64(sw1-sw0) / idleFor.Seconds(), switches: sw1 - sw0}, nil
}

// seedState writes a record per key saying it was rotated and kept alive
// just now, so that nothing is due when the daemon starts. Puts run
// concurrently so that the store batches them.
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
			LastSuccessAt: now, LastAttemptAt: now, LastKeepAliveAt: now, LastUsedAt: now, Rotations: 1}
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
