package emailit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/rotator-dev/rotator/internal/backend"
	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

var epoch = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// env is a provider wired to a test server, both on one fake clock that a
// driver advances whenever the client waits on it (rate limit, Retry-After
// pause, backoff) with no request in flight: the real waits happen in no
// real time.
type env struct {
	srv   *emailittest.Server
	clock *clockwork.FakeClock
	p     *Provider
	logs  *observer.ObservedLogs
	core  zapcore.Core // the logs' core, for other components under test
	drv   *clockDriver
	errs  []error // every error a provider call returned, for leak checks
}

func newEnv(t *testing.T, scfg emailittest.Config, tweak func(*Config)) *env {
	t.Helper()
	clk := clockwork.NewFakeClockAt(epoch)
	scfg.Clock = clk
	srv := emailittest.New(scfg)
	t.Cleanup(srv.Close)

	core, logs := observer.New(zap.DebugLevel)
	drv := &clockDriver{clock: clk, base: http.DefaultTransport}
	drv.cond = sync.NewCond(&drv.mu)
	cfg := Config{
		Config: httpapi.Config{BaseURL: srv.URL(), RequestTimeout: config.Duration(time.Hour)},
		APIKey: config.Secret(srv.ManagementKey()),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	p, err := New(cfg, providers.Deps{Deps: backend.Deps{Name: "emailit", Logger: zap.New(core), Clock: clk, UserAgent: "rotator/test"}, HTTPClient: &http.Client{Transport: drv}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); drv.run(ctx) }()
	t.Cleanup(func() { cancel(); drv.wake(); <-done })
	e := &env{srv: srv, clock: clk, p: p, logs: logs, core: core, drv: drv}
	t.Cleanup(func() { e.checkNoSecrets(t) })
	return e
}

// track records err for the leak check and returns it.
func (e *env) track(err error) error {
	if err != nil {
		e.errs = append(e.errs, err)
	}
	return err
}

// checkNoSecrets fails when any issued secret (the management key
// included) appears in a log entry or a returned error.
func (e *env) checkNoSecrets(t *testing.T) {
	t.Helper()
	secrets := e.srv.IssuedSecrets()
	var texts []string
	for _, entry := range e.logs.All() {
		var b strings.Builder
		b.WriteString(entry.Message)
		for k, v := range entry.ContextMap() {
			b.WriteString(" " + k + "=")
			b.WriteString(strings.ReplaceAll(strings.TrimSpace(fmtAny(v)), "\n", " "))
		}
		texts = append(texts, b.String())
	}
	for _, err := range e.errs {
		texts = append(texts, err.Error())
	}
	for _, s := range secrets {
		for _, txt := range texts {
			if strings.Contains(txt, s) {
				t.Errorf("a secret leaked into %q", txt)
			}
		}
	}
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case error:
		return x.Error()
	}
	return fmt.Sprint(v)
}

// clockDriver is an http.RoundTripper that counts requests in flight and
// advances the fake clock in small steps while the client waits on it.
type clockDriver struct {
	clock *clockwork.FakeClock
	base  http.RoundTripper

	mu       sync.Mutex
	cond     *sync.Cond
	inFlight int
	stopped  bool
	advanced time.Duration
}

func (d *clockDriver) RoundTrip(r *http.Request) (*http.Response, error) {
	d.mu.Lock()
	d.inFlight++
	d.mu.Unlock()
	resp, err := d.base.RoundTrip(r)
	if err != nil {
		d.done()
		return nil, err
	}
	resp.Body = &hookBody{ReadCloser: resp.Body, done: d.done}
	return resp, nil
}

func (d *clockDriver) done() {
	d.mu.Lock()
	d.inFlight--
	d.mu.Unlock()
	d.cond.Broadcast()
}

func (d *clockDriver) wake() {
	d.mu.Lock()
	d.stopped = true
	d.mu.Unlock()
	d.cond.Broadcast()
}

// Step is how far the driver moves the clock at a time.
const step = 50 * time.Millisecond

func (d *clockDriver) run(ctx context.Context) {
	for {
		if err := d.clock.BlockUntilContext(ctx, 1); err != nil {
			return
		}
		d.mu.Lock()
		for d.inFlight > 0 && !d.stopped {
			d.cond.Wait()
		}
		stopped := d.stopped
		if !stopped {
			d.advanced += step
		}
		d.mu.Unlock()
		if stopped {
			return
		}
		d.clock.Advance(step)
	}
}

// Advanced is how much fake time the driver let pass.
func (d *clockDriver) Advanced() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.advanced
}

type hookBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *hookBody) Close() error {
	err := b.ReadCloser.Close()
	b.once.Do(b.done)
	return err
}
