package e2e

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// metric sums the samples of a metric whose labels contain every one of
// labels (`key="mail"`).
func metric(body, name string, labels ...string) float64 {
	var sum float64
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(line, l)
		}
		if !ok {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}

// daemon is a started daemon whose first rotation of both keys completed.
func (w *world) daemon(t *testing.T) *proc {
	t.Helper()
	p := w.start(nil)
	p.listening(t, 10*time.Second)
	// A kept intent (a create cut short by a stop) may hold the first
	// rotation back for up to the rotation timeout.
	eventually(t, 40*time.Second, "the first rotation of both keys", func() bool {
		_, m := p.get(t, "/metrics")
		return metric(m, "rotator_rotations_total", `key="mail"`, `result="success"`) >= 1 &&
			metric(m, "rotator_rotations_total", `key="news"`, `result="success"`) >= 1
	})
	return p
}

// failures is the total of failed rotations, revocations and keep-alives.
func failures(m string) float64 {
	return metric(m, "rotator_rotations_total", `result="failure"`) + metric(m, "rotator_revocations_total", `result="failure"`) +
		metric(m, "rotator_keepalives_total", `result="failure"`)
}

func successes(m, key string) float64 {
	return metric(m, "rotator_rotations_total", `key="`+key+`"`, `result="success"`)
}

// stopAndVerify stops the daemon with SIGTERM and checks the end state:
// exit 0, no orphan, no outage, nothing overdue.
func (w *world) stopAndVerify(t *testing.T, p *proc, pr *probe, grace time.Duration) report {
	t.Helper()
	p.signal(syscall.SIGTERM)
	if st := p.wait(t, 20*time.Second); st.ExitCode() != 0 {
		t.Errorf("SIGTERM: exit %s, want 0:\n%s", st, tail(p.log))
	}
	pr.close()
	if u := w.untracked(t); len(u) > 0 {
		t.Errorf("orphans: %v", u)
	}
	rep := pr.summary(grace + revocationBound + 10*time.Second)
	for _, o := range rep.outages {
		t.Errorf("outage: %s", o)
	}
	for _, u := range rep.unrevoked {
		t.Errorf("superseded key not revoked: %s", u)
	}
	return rep
}

// TestProviderFaults injects one provider fault after another into a
// running daemon: 5xx and timeouts on every call, a create that takes
// effect but times out, 429 storms with Retry-After, a dropped create
// response, a revocation failing for longer than the grace period, and a
// provider so slow that the rotation timeout cuts the rotation short. For
// each it waits until the fault was hit and the failure shows in /metrics
// and the logs, ends the fault, and waits until both keys rotate again.
// The probe must see no outage throughout.
func TestProviderFaults(t *testing.T) {
	t.Parallel()
	pol := fastPolicy()
	pol.Proxy = true
	pol.Timeout = "4s"
	pol.RequestTimeout = "1500ms"
	pol.MaxRetries = "1"
	w := newWorld(t, pol)
	pr := w.startProbe(t)
	p := w.daemon(t)
	sp, ep := w.smtpdProxy, w.emailitProxy
	type target struct {
		px *proxy
		r  *rule
	}
	at := func(px *proxy) func(*rule, func(*rule)) target {
		return func(r *rule, f func(*rule)) target { f(r); return target{px, r} }
	}
	sw, ew := at(sp), at(ep)
	status := func(s int) func(*rule) { return func(r *rule) { r.status = s } }
	delay := func(r *rule) { r.delay = 2 * time.Second } // beyond request_timeout
	late := func(r *rule) { r.delay, r.late = 2500*time.Millisecond, true }
	smtpdPath := func(method, re string) *rule { return &rule{method: method, path: regexp.MustCompile(re)} }

	type fault struct {
		name  string
		rules []target
		// setup injects faults through the servers themselves.
		setup func()
		// want is a log message the fault must cause.
		want string
	}
	faults := []fault{
		{name: "create 503", want: "rotation failed", rules: []target{
			sw(smtpdCreate(), status(503)), ew(emailitCreate(), status(503))}},
		{name: "create 500 and the cleanup's list 502", want: "rotation failed", rules: []target{
			sw(smtpdCreate(), status(500)), sw(smtpdList(), status(502)),
			ew(emailitCreate(), status(500)), ew(&rule{method: "GET", path: regexp.MustCompile(`^/v2/api-keys/?$`)}, status(502))}},
		{name: "create takes effect but answers after the request timeout", want: "revoked a key created by an attempt whose response was lost", rules: []target{
			sw(smtpdCreate(), func(r *rule) { r.delayAfter = 2 * time.Second }),
			ew(emailitCreate(), func(r *rule) { r.delayAfter = 2 * time.Second })}},
		{name: "create times out before it reaches the provider", want: "rotation failed", rules: []target{
			sw(smtpdCreate(), delay), ew(emailitCreate(), delay)}},
		{name: "create reaches the provider after the client gave up", want: "revoked a key created by an attempt whose response was lost", rules: []target{
			sw(smtpdCreate(), late), ew(emailitCreate(), late)}},
		{name: "create response lost (dropped connection)", want: "revoked a key created by an attempt whose response was lost",
			setup: func() { w.smtpd.DropNextCreate(); w.emailit.DropNextCreate() }},
		{name: "login 503", want: "failed", rules: []target{
			sw(smtpdPath("POST", `^/oauth/token$`), status(503))}},
		{name: "login timeout", want: "failed", rules: []target{
			sw(smtpdPath("POST", `^/oauth/token$`), delay)}},
		{name: "keep-alive's test (GET /oauth/me, GET key) 503", want: "failed", rules: []target{
			sw(smtpdPath("GET", `^/oauth/me$`), status(503)),
			ew(&rule{method: "GET", path: regexp.MustCompile(`^/v2/api-keys/[^/]+$`)}, status(503))}},
		{name: "keep-alive's test (GET /oauth/me, GET key) timeout", want: "failed", rules: []target{
			sw(smtpdPath("GET", `^/oauth/me$`), delay),
			ew(&rule{method: "GET", path: regexp.MustCompile(`^/v2/api-keys/[^/]+$`)}, delay)}},
		// smtpd verifies a new key with a login (the login rows above);
		// Emailit with a key list made with the new key.
		{name: "the new key's verify at Emailit (GET /v2/api-keys with the key) 503", want: "failed", rules: []target{
			ew(&rule{method: "GET", path: regexp.MustCompile(`^/v2/api-keys/?$`)}, status(503))}},
		{name: "the new key's verify at Emailit (GET /v2/api-keys with the key) timeout", want: "failed", rules: []target{
			ew(&rule{method: "GET", path: regexp.MustCompile(`^/v2/api-keys/?$`)}, delay)}},
		{name: "revoke 500 for longer than the grace period", want: "revocation failed", rules: []target{
			sw(smtpdRevoke(), status(500)), ew(emailitDelete(), status(500))}},
		{name: "revoke timeout", want: "revocation failed", rules: []target{
			sw(smtpdRevoke(), delay), ew(emailitDelete(), delay)}},
		{name: "429 storm with Retry-After on every call", want: "failed", rules: []target{
			sw(smtpdAny(), func(r *rule) { r.status, r.retryAfter = 429, 1 }),
			ew(emailitAny(), func(r *rule) { r.status, r.retryAfter = 429, 1 })}},
		// A rotation makes two round trips (create, verify), which a slow
		// provider alone cannot stretch past 4 s within the 1.5 s request
		// timeout; here the verify also fails (503) and is retried.
		{name: "slow provider whose verify fails: the rotation timeout (4s) cuts the rotation short", want: "rotation timeout (4s) reached", rules: []target{
			sw(smtpdPath("POST", `^/oauth/token$`), func(r *rule) { r.delay, r.status = 1400*time.Millisecond, 503 }),
			sw(smtpdAny(), func(r *rule) { r.delay = 1400 * time.Millisecond }),
			ew(&rule{method: "GET", path: regexp.MustCompile(`^/v2/api-keys/?$`)}, func(r *rule) { r.delay, r.status = 1400*time.Millisecond, 503 }),
			ew(emailitAny(), func(r *rule) { r.delay = 1400 * time.Millisecond })}},
	}
	hold := 4 * time.Second // longer than the schedule and the grace period
	for _, f := range faults {
		_, m := p.get(t, "/metrics")
		failed0, mail0, news0 := failures(m), successes(m, "mail"), successes(m, "news")
		logs0 := len(p.logText())
		var removes []func()
		for _, tg := range f.rules {
			removes = append(removes, tg.px.add(tg.r))
		}
		if f.setup != nil {
			f.setup()
		}
		start := time.Now()
		eventually(t, 25*time.Second, f.name+": the fault is hit and shows in /metrics and the logs", func() bool {
			for _, tg := range f.rules {
				if tg.px.hits(tg.r) == 0 {
					return false
				}
			}
			_, m := p.get(t, "/metrics")
			return failures(m) > failed0 && strings.Contains(p.logText()[logs0:], f.want)
		})
		if d := hold - time.Since(start); d > 0 && len(f.rules) > 0 {
			time.Sleep(d) // the fault lasts a while
		}
		for _, rm := range removes {
			rm()
		}
		// A create held by a late rule may reach the provider after the
		// fault ends: let it land before the next fault (a dropped create
		// queued now would otherwise be spent on it).
		sp.waitLate()
		ep.waitLate()
		eventually(t, 30*time.Second, f.name+": both keys rotate again once the fault ends", func() bool {
			_, m := p.get(t, "/metrics")
			return successes(m, "mail") > mail0 && successes(m, "news") > news0
		})
		t.Logf("%s: hit, visible, recovered in %s", f.name, time.Since(start).Round(100*time.Millisecond))
		if p.exited() {
			t.Fatalf("rotator exited:\n%s", tail(p.log))
		}
	}
	_, m := p.get(t, "/metrics")
	if metric(m, "rotator_provider_requests_total", `code="503"`) == 0 || metric(m, "rotator_provider_requests_total", `code="429"`) == 0 {
		t.Errorf("provider_requests_total does not count the 503s and 429s")
	}
	// Let due revocations finish, then stop.
	eventually(t, 20*time.Second, "no revocation overdue", func() bool {
		_, m := p.get(t, "/metrics")
		return metric(m, "rotator_pending_revocations") <= 2
	})
	rep := w.stopAndVerify(t, p, pr, 3*time.Second)
	t.Logf("E2E-FIGURES test=provider-faults faults=%d keys_created=%d probe_reads=%d outages=%d orphans=%d max_revocation_delay=%s",
		len(faults), w.createdKeys(), rep.reads, len(rep.outages), len(w.untracked(t)), rep.maxDelay().Round(10*time.Millisecond))
}

// TestSinkFaults takes sinks down for longer than a whole schedule
// interval: first one of mail's two sinks (backup), then the sink that
// holds news' only target and mail's first (out). While a sink is down the
// old key must stay valid wherever a consumer reads it, the failures must
// show, and the rotation must complete once the sink is back.
func TestSinkFaults(t *testing.T) {
	t.Parallel()
	w := newWorld(t, fastPolicy())
	pr := w.startProbe(t)
	p := w.daemon(t)
	for _, sink := range []string{"backup", "out"} {
		_, m := p.get(t, "/metrics")
		mail0 := successes(m, "mail")
		fail0 := metric(m, "rotator_sink_writes_total", `sink="`+sink+`"`, `result="failure"`)
		up := sinkDown(t, w, pr, sink)
		start := time.Now()
		eventually(t, 20*time.Second, sink+" down: failed writes show in /metrics", func() bool {
			_, m := p.get(t, "/metrics")
			return metric(m, "rotator_sink_writes_total", `sink="`+sink+`"`, `result="failure"`) > fail0
		})
		// Down for longer than a whole schedule interval (3s) and the grace.
		for time.Since(start) < 7*time.Second {
			time.Sleep(100 * time.Millisecond) // the fault lasts a while: no rotation may succeed meanwhile
		}
		_, m = p.get(t, "/metrics")
		if got := successes(m, "mail"); got != mail0 {
			t.Errorf("%s down: mail rotated %v times although a sink of it is down", sink, got-mail0)
		}
		if !strings.Contains(p.logText(), "rotation failed; the current key stays in place") {
			t.Errorf("%s down: the logs do not say the rotation failed", sink)
		}
		up()
		eventually(t, 20*time.Second, sink+" back: mail rotates again", func() bool {
			_, m := p.get(t, "/metrics")
			return successes(m, "mail") > mail0
		})
		t.Logf("sink %s down %s: no rotation, old key kept, recovered", sink, time.Since(start).Round(100*time.Millisecond))
	}
	rep := w.stopAndVerify(t, p, pr, 3*time.Second)
	t.Logf("E2E-FIGURES test=sink-faults probe_reads=%d outages=%d orphans=%d keys_created=%d max_revocation_delay=%s",
		rep.reads, len(rep.outages), len(w.untracked(t)), w.createdKeys(), rep.maxDelay().Round(10*time.Millisecond))
}

// sinkDown makes a file sink's folder unwritable for the daemon (root
// ignores permissions): a read-only bind mount over it when this machine
// allows mounts, so that consumers still read the old files; else the
// folder is moved away and replaced by a file. It returns the repair.
func sinkDown(t *testing.T, w *world, pr *probe, sink string) (up func()) {
	t.Helper()
	dir := w.sinkPath(sink, "")
	dir = strings.TrimSuffix(dir, "/")
	if os.Geteuid() == 0 {
		if exec.Command("mount", "--bind", dir, dir).Run() == nil {
			if err := exec.Command("mount", "-o", "remount,ro,bind", dir).Run(); err == nil {
				t.Logf("%s: read-only bind mount", sink)
				return func() {
					if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
						t.Fatalf("umount %s: %v %s", dir, err, out)
					}
				}
			}
			exec.Command("umount", dir).Run()
		}
	}
	if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
		t.Log("mount is not permitted here: falling back to replacing the folder by a file")
	}
	for _, tg := range pr.targets {
		if tg.sink == sink {
			pr.allowMissingFile(sink+"/"+tg.file, true)
		}
	}
	must(t, os.Rename(dir, dir+".away"))
	must(t, os.WriteFile(dir, []byte("not a folder"), 0o600))
	return func() {
		must(t, os.Remove(dir))
		must(t, os.Rename(dir+".away", dir))
		for _, tg := range pr.targets {
			if tg.sink == sink {
				pr.allowMissingFile(sink+"/"+tg.file, false)
			}
		}
	}
}
