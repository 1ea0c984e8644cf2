package vault_test

import (
	"testing"
	"time"

	"github.com/rotator-dev/rotator/internal/sinks"
)

// These two tests let real Vault tokens with a TTL of a few seconds run
// out, because the api's LifetimeWatcher runs on the wall clock. They wait
// for an event (a log line), bounded only to catch a hang.

func waitForLog(t *testing.T, s *testSink, msg string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for s.logs.FilterMessage(msg).Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no %q log line within 30s", msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRenewableTokenIsRenewed(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	req := apiTokenRequestWith("rotator")
	req.TTL = "3s"
	tok, err := f.dev.root.Auth().Token().CreateWithContext(ctx, &req)
	if err != nil {
		t.Fatalf("f.dev.root.Auth().Token().CreateWithContext: %v", err)
	}
	s := newSink(t, f, "token: "+tok.Auth.ClientToken, sinks.Deps{})
	if err := s.Check(ctx); err != nil {
		t.Fatalf("s.Check(ctx): %v", err)
	}
	waitForLog(t, s, "vault token renewed")

	self, err := f.dev.root.Auth().Token().LookupWithContext(ctx, tok.Auth.ClientToken)
	if err != nil {
		t.Fatalf("f.dev.root.Auth().Token().LookupWithContext: %v", err)
	}
	if self.Data["last_renewal_time"] == nil {
		t.Fatalf("Vault recorded no renewal: last_renewal_time is nil")
	}
}

func TestAppRoleTokenAtMaxTTLLogsInAgainBeforeExpiry(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	c := f.dev.root
	_, err := c.Logical().WriteWithContext(ctx, "auth/approle/role/short", map[string]any{
		"token_policies": "rotator", "token_ttl": "2s", "token_max_ttl": "2s",
	})
	if err != nil {
		t.Fatalf("c.Logical().WriteWithContext: %v", err)
	}
	rid, err := c.Logical().ReadWithContext(ctx, "auth/approle/role/short/role-id")
	if err != nil {
		t.Fatalf("c.Logical().ReadWithContext: %v", err)
	}
	sid, err := c.Logical().WriteWithContext(ctx, "auth/approle/role/short/secret-id", nil)
	if err != nil {
		t.Fatalf("c.Logical().WriteWithContext: %v", err)
	}

	s := newSink(t, f, "approle: {role_id: "+rid.Data["role_id"].(string)+", secret_id: "+sid.Data["secret_id"].(string)+"}", sinks.Deps{})
	tg := bind(t, s, uniquePath("short"))
	_, err = tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	waitForLog(t, s, "vault token reaches its max ttl, will log in again")

	_, err = tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_2"}))
	if err != nil {
		t.Fatalf("tg.Write: %v", err)
	}
	if got := s.logs.FilterMessage("vault login").Len(); got != 2 {
		t.Fatalf("s.logs.FilterMessage(\"vault login\").Len() = %v, want %v", got, 2)
	}
	if got := s.logs.FilterMessage("vault token no longer valid, logging in again").Len(); got != 0 {
		t.Fatalf("the sink waited for a denial instead of logging in before expiry: got %v, want zero", got)
	}
}
