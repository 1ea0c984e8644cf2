package e2e

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMDuringEveryStep holds each provider call in flight (create,
// the new key's verify, revoke, keep-alive's login and test) and sends SIGTERM while
// it is: the daemon lets the step finish, exits 0, and leaves a state that
// accounts for every key. A second signal exits at once; a step longer
// than shutdown_timeout is cancelled and resumed at the next start. Then
// SIGTERM at random moments. The probe must see no outage throughout.
func TestSIGTERMDuringEveryStep(t *testing.T) {
	t.Parallel()
	seed := testSeed(t)
	pol := fastPolicy()
	pol.Proxy = true
	// Calls may take longer than the drain, so that shutdown_timeout is
	// what cuts the longest step short.
	pol.RequestTimeout, pol.Timeout, pol.ShutdownTimeout = "10s", "20s", "3s"
	w := newWorld(t, pol)
	pr := w.startProbe(t)
	sp, ep := w.smtpdProxy, w.emailitProxy
	hold := func(r *rule, d time.Duration) *rule { r.delay = d; return r }
	login := func() *rule { return &rule{method: "POST", path: regexp.MustCompile(`^/oauth/token$`)} }
	me := func() *rule { return &rule{method: "GET", path: regexp.MustCompile(`^/oauth/me$`)} }
	list := func() *rule { return &rule{method: "GET", path: regexp.MustCompile(`^/v2/api-keys/?$`)} }

	consistent := func(what string) {
		t.Helper()
		if u := w.untracked(t); len(u) > 0 {
			t.Errorf("%s: keys the state does not track: %v", what, u)
		}
	}
	terms := 0
	steps := []struct {
		name   string
		smtpd  *rule
		email  *rule
		signal int // how many SIGTERMs
		exit   int
	}{
		{"create in flight", hold(smtpdCreate(), 1500*time.Millisecond), hold(emailitCreate(), 1500*time.Millisecond), 1, 0},
		{"keep-alive's test (smtpd) and the new key's verify (Emailit) in flight", hold(me(), 1500*time.Millisecond), hold(list(), 1500*time.Millisecond), 1, 0},
		{"revoke in flight", hold(smtpdRevoke(), 1500*time.Millisecond), hold(emailitDelete(), 1500*time.Millisecond), 1, 0},
		{"keep-alive login in flight", hold(login(), 1500*time.Millisecond), nil, 1, 0},
		{"a step longer than shutdown_timeout (3s)", hold(smtpdCreate(), 8*time.Second), hold(emailitCreate(), 8*time.Second), 1, 0},
		{"a second signal", hold(smtpdCreate(), 8*time.Second), hold(emailitCreate(), 8*time.Second), 2, 1},
	}
	for _, s := range steps {
		p := w.start(nil)
		p.listening(t, 10*time.Second)
		var rms []func()
		if s.smtpd != nil {
			rms = append(rms, sp.add(s.smtpd))
		}
		if s.email != nil {
			rms = append(rms, ep.add(s.email))
		}
		eventually(t, 40*time.Second, s.name+": the held call is made", func() bool {
			return (s.smtpd == nil || sp.hits(s.smtpd) > 0) && (s.email == nil || ep.hits(s.email) > 0)
		})
		sent := time.Now()
		for i := 0; i < s.signal; i++ {
			p.signal(syscall.SIGTERM)
			terms++
			time.Sleep(50 * time.Millisecond) // two distinct signals
		}
		st := p.wait(t, 15*time.Second)
		took := time.Since(sent)
		if st.ExitCode() != s.exit {
			t.Errorf("%s: exit %s, want %d:\n%s", s.name, st, s.exit, tail(p.log))
		}
		switch {
		case s.signal == 2 && took > 2*time.Second:
			t.Errorf("%s: exited %s after the second signal, want at once", s.name, took)
		case s.signal == 1 && took > 3*time.Second+2*time.Second:
			t.Errorf("%s: exited %s after SIGTERM, beyond shutdown_timeout", s.name, took)
		}
		logs := p.logText()
		if s.exit == 0 && !strings.Contains(logs, "daemon stopped") {
			t.Errorf("%s: the logs do not say the daemon stopped", s.name)
		}
		if strings.Contains(s.name, "longer than shutdown_timeout") && !strings.Contains(logs, "shutdown timeout reached: cancelling work in flight") {
			t.Errorf("%s: the logs do not say the work in flight was cancelled", s.name)
		}
		for _, rm := range rms {
			rm()
		}
		consistent("after SIGTERM with " + s.name)
		t.Logf("%s: exit %d in %s", s.name, st.ExitCode(), took.Round(10*time.Millisecond))
	}
	rnd := rand.New(rand.NewPCG(seed, 11))
	for i := 0; i < 5; i++ {
		p := w.start(nil)
		p.listening(t, 10*time.Second)
		time.Sleep(time.Duration(rnd.Int64N(int64(3 * time.Second)))) // the random moment itself
		p.signal(syscall.SIGTERM)
		terms++
		if st := p.wait(t, 15*time.Second); st.ExitCode() != 0 {
			t.Errorf("SIGTERM at random #%d: exit %s, want 0:\n%s", i+1, st, tail(p.log))
		}
		consistent("after SIGTERM at random")
	}
	p := w.daemon(t)
	rep := w.stopAndVerify(t, p, pr, 3*time.Second)
	t.Logf("E2E-FIGURES test=sigterm signals=%d probe_reads=%d outages=%d orphans=%d", terms, rep.reads, len(rep.outages), len(w.untracked(t)))
}
