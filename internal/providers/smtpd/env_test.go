package smtpd_test

import (
	"context"
	"encoding/json"
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
	"github.com/rotator-dev/rotator/internal/providers/httpapi"
	"github.com/rotator-dev/rotator/internal/providers/smtpd"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
)

// codes records every request the provider reports, per op.
type codes struct {
	mu  sync.Mutex
	all []string
}

func (c *codes) ObserveRequest(provider, op, code string, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, op+":"+code)
}

func (c *codes) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.all...)
}

type env struct {
	srv   *smtpdtest.Server
	clock *clockwork.FakeClock
	p     *smtpd.Provider
	logs  *observer.ObservedLogs
	codes *codes
}

type envOpt struct {
	server    smtpdtest.Config
	rateLimit float64
	password  string
	opts      []httpapi.Option
	// listMaxKeys is list_max_keys (0: the default).
	listMaxKeys int
}

func newEnv(t *testing.T, o envOpt) *env {
	t.Helper()
	fc := clockwork.NewFakeClockAt(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))
	o.server.Clock = fc
	srv := smtpdtest.New(o.server)
	t.Cleanup(srv.Close)
	e := &env{srv: srv, clock: fc, codes: &codes{}}
	e.p = e.provider(t, o)
	return e
}

func (e *env) provider(t *testing.T, o envOpt) *smtpd.Provider {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	e.logs = logs
	if o.rateLimit == 0 {
		o.rateLimit = 1000
	}
	if o.password == "" {
		o.password = e.srv.Password()
	}
	if o.opts == nil {
		o.opts = []httpapi.Option{httpapi.WithBackoff(0, 0)}
	}
	p, err := smtpd.New(smtpd.Config{
		Config: httpapi.Config{BaseURL: e.srv.URL(), RateLimit: o.rateLimit, RequestTimeout: config.Duration(1000 * time.Hour),
			ListMaxKeys: o.listMaxKeys},
		Username: e.srv.Username(), Password: config.Secret(o.password),
	}, providers.Deps{Deps: backend.Deps{Name: "smtpd-test", Logger: zap.New(core), Clock: e.clock, UserAgent: "rotator/test"}, Observer: e.codes}, o.opts...)
	if err != nil {
		t.Fatalf("smtpd.New: %v", err)
	}
	return p
}

// drive advances the fake clock in small steps until done is closed, for
// calls that wait on the clock (rate limit, Retry-After).
func (e *env) drive(t *testing.T, step time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if err := e.clock.BlockUntilContext(ctx, 1); err != nil {
				return
			}
			e.clock.Advance(step)
			time.Sleep(time.Millisecond)
		}
	}()
	return func() { cancel(); <-done }
}

// requireNoSecrets checks errors and every log line against every secret
// the server issued (keys, secrets, tokens, the management password).
func (e *env) requireNoSecrets(t *testing.T, errs ...error) {
	t.Helper()
	secrets := e.srv.IssuedSecrets()
	if len(secrets) == 0 {
		t.Fatalf("secrets = %+v, want non-empty", secrets)
	}
	var texts []string
	for _, err := range errs {
		if err != nil {
			texts = append(texts, err.Error())
		}
	}
	for _, entry := range e.logs.All() {
		b, _ := json.Marshal(entry.ContextMap())
		texts = append(texts, entry.Message+" "+string(b))
	}
	for _, text := range texts {
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Fatalf("a secret leaked into %q", text)
			}
		}
	}
}

var ctx = context.Background()

func depsForNew() providers.Deps { return providers.Deps{} }
