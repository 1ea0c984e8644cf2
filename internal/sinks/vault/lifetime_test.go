package vault_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
	require.NoError(t, err)
	s := newSink(t, f, "token: "+tok.Auth.ClientToken, sinks.Deps{})
	require.NoError(t, s.Check(ctx))
	waitForLog(t, s, "vault token renewed")

	self, err := f.dev.root.Auth().Token().LookupWithContext(ctx, tok.Auth.ClientToken)
	require.NoError(t, err)
	require.NotNil(t, self.Data["last_renewal_time"], "Vault recorded no renewal")
}

func TestAppRoleTokenAtMaxTTLLogsInAgainBeforeExpiry(t *testing.T) {
	f := setup(t)
	ctx := t.Context()
	c := f.dev.root
	_, err := c.Logical().WriteWithContext(ctx, "auth/approle/role/short", map[string]any{
		"token_policies": "rotator", "token_ttl": "2s", "token_max_ttl": "2s",
	})
	require.NoError(t, err)
	rid, err := c.Logical().ReadWithContext(ctx, "auth/approle/role/short/role-id")
	require.NoError(t, err)
	sid, err := c.Logical().WriteWithContext(ctx, "auth/approle/role/short/secret-id", nil)
	require.NoError(t, err)

	s := newSink(t, f, "approle: {role_id: "+rid.Data["role_id"].(string)+", secret_id: "+sid.Data["secret_id"].(string)+"}", sinks.Deps{})
	tg := bind(t, s, uniquePath("short"))
	_, err = tg.Write(ctx, write("k1", sinks.Secret{"key": "sk_1"}))
	require.NoError(t, err)
	waitForLog(t, s, "vault token reaches its max ttl, will log in again")

	_, err = tg.Write(ctx, write("k2", sinks.Secret{"key": "sk_2"}))
	require.NoError(t, err)
	require.Equal(t, 2, s.logs.FilterMessage("vault login").Len())
	require.Zero(t, s.logs.FilterMessage("vault token no longer valid, logging in again").Len(),
		"the sink waited for a denial instead of logging in before expiry")
}
