package smtpd_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/smtpd"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
)

// TestVerify: Verify is the key's login alone, its token is thrown away
// (the management token stays cached and in use), and smtpd refuses the
// login of a wrong secret, a revoked key and a key revoked for inactivity.
func TestVerify(t *testing.T) {
	e := newEnv(t, envOpt{})
	key, err := e.p.Create(ctx, "rotator-mail-20261101T090000Z-ab12", sendOnly)
	if err != nil {
		t.Fatalf("e.p.Create: %v", err)
	}
	before := e.srv.Requests()
	e.clock.Advance(time.Minute)
	if err := e.p.Verify(ctx, key.ID, key.Credential); err != nil {
		t.Fatalf("e.p.Verify(ctx, key.ID, key.Credential): %v", err)
	}
	after := e.srv.Requests()
	if after[smtpdtest.OpLogin] != before[smtpdtest.OpLogin]+1 {
		t.Fatalf("one login with key:secret: got %v, want %v", after[smtpdtest.OpLogin], before[smtpdtest.OpLogin]+1)
	}
	delete(before, smtpdtest.OpLogin)
	delete(after, smtpdtest.OpLogin)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("and no other request: got %+v, want %+v", after, before)
	}

	// The key's token did not replace the management token: a management
	// call works (a key's token would get 403) without logging in again.
	logins := e.srv.Requests()[smtpdtest.OpLogin]
	info, err := e.p.Get(ctx, key.ID)
	if err != nil {
		t.Fatalf("e.p.Get: %v", err)
	}
	if !info.Active {
		t.Fatalf("info.Active: got false, want true")
	}
	if got := e.srv.Requests()[smtpdtest.OpLogin]; got != logins {
		t.Fatalf("the cached management token was used: got %v, want %v", got, logins)
	}

	wrong := providers.Credential{"key": key.Credential["key"], "secret": key.Credential["secret"] + "x"}
	errWrong := e.p.Verify(ctx, key.ID, wrong)
	if got := providers.ReasonOf(errWrong); got != providers.ReasonAuth {
		t.Fatalf("%v: got %q, want %q", errWrong, got, providers.ReasonAuth)
	}
	var pe *providers.Error
	if !errors.As(errWrong, &pe) {
		t.Fatalf("got error %v, want one that is a %T", errWrong, pe)
	}
	if pe.Code != "40102" {
		t.Fatalf("smtpd's wrong-login code: got %q, want %q", pe.Code, "40102")
	}

	err = e.p.Verify(ctx, key.ID, providers.Credential{"key": key.Credential["key"]})
	if got := providers.ReasonOf(err); got != providers.ReasonClient {
		t.Fatalf("no secret: not sent: got %q, want %q", got, providers.ReasonClient)
	}

	idle, err := e.p.Create(ctx, "rotator-idle-20261101T090000Z-cd34", sendOnly)
	if err != nil {
		t.Fatalf("e.p.Create: %v", err)
	}
	if err := e.p.Revoke(ctx, key.ID); err != nil {
		t.Fatalf("e.p.Revoke(ctx, key.ID): %v", err)
	}
	errRevoked := e.p.Verify(ctx, key.ID, key.Credential)
	if got := providers.ReasonOf(errRevoked); got != providers.ReasonAuth {
		t.Fatalf("%v: got %q, want %q", errRevoked, got, providers.ReasonAuth)
	}

	e.clock.Advance(smtpd.IdleRevocation)
	errIdle := e.p.Verify(ctx, idle.ID, idle.Credential)
	if got := providers.ReasonOf(errIdle); got != providers.ReasonAuth {
		t.Fatalf("a key revoked for inactivity: %v: got %q, want %q", errIdle, got, providers.ReasonAuth)
	}
	got, err := e.p.Get(ctx, idle.ID)
	if err != nil {
		t.Fatalf("e.p.Get: %v", err)
	}
	if got.Active {
		t.Fatalf("got.Active: got true, want false")
	}
	e.requireNoSecrets(t, errWrong, errRevoked, errIdle)
}

func TestInactiveKeyTestReportsInactive(t *testing.T) {
	e := newEnv(t, envOpt{server: smtpdtest.Config{InactivityAfter: 72 * time.Hour}})
	key, err := e.p.Create(ctx, "idle", sendOnly)
	if err != nil {
		t.Fatalf("e.p.Create: %v", err)
	}
	e.clock.Advance(72 * time.Hour)
	info, err := e.p.Test(ctx, key.ID, key.Credential)
	if err == nil {
		t.Fatalf("e.p.Test: got no error, want one")
	}
	if got := providers.ReasonOf(err); got != providers.ReasonAuth {
		t.Fatalf("providers.ReasonOf(err) = %q, want %q", got, providers.ReasonAuth)
	}
	if got := err.Error(); !strings.Contains(got, "inactive") {
		t.Fatalf("got %q, want it to contain %q", got, "inactive")
	}
	if info.ID != key.ID {
		t.Fatalf("info.ID = %q, want %q", info.ID, key.ID)
	}
	if info.Active {
		t.Fatalf("the engine sees an inactive current key: got true, want false")
	}
	e.requireNoSecrets(t, err)
}

func TestKeepAliveKeepsKeyActive(t *testing.T) {
	e := newEnv(t, envOpt{server: smtpdtest.Config{InactivityAfter: 90 * 24 * time.Hour}})
	key, err := e.p.Create(ctx, "kept", sendOnly)
	if err != nil {
		t.Fatalf("e.p.Create: %v", err)
	}
	for i := 0; i < 4; i++ {
		e.clock.Advance(60 * 24 * time.Hour)
		info, err := e.p.Test(ctx, key.ID, key.Credential)
		if err != nil {
			t.Fatalf("e.p.Test: %v", err)
		}
		if !info.Active {
			t.Fatalf("info.Active: got false, want true")
		}
		if want := e.clock.Now(); !reflect.DeepEqual(want, info.LastUsedAt) {
			t.Fatalf("info.LastUsedAt = %+v, want %+v", info.LastUsedAt, want)
		}
	}
	if got := e.p.IdleRevocationAfter(); got != time.Duration(90*24*time.Hour) {
		t.Fatalf("e.p.IdleRevocationAfter() = %v, want %v", got, time.Duration(90*24*time.Hour))
	}
}
