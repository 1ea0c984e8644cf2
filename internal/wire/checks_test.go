package wire

import (
	"fmt"
	"strings"
	"testing"
)

func warnings(t *testing.T, yml string) []string {
	t.Helper()
	b, err := build(t, yml)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, w := range b.Warnings {
		out = append(out, w.String())
	}
	return out
}

// TestBuildWarnsAboutUnsafePolicies: what works but will hurt is a
// warning at check, with the numbers that make it so.
func TestBuildWarnsAboutUnsafePolicies(t *testing.T) {
	if got := warnings(t, policy); len(got) != 0 {
		t.Fatalf("the valid policy warns: %q", got)
	}
	tests := map[string]struct {
		from, to string
		want     []string
	}{
		"smtpd keep-alive off": {"params: {role: send_only}", "params: {role: send_only}\n    keepalive: 0s", []string{
			"keys[0].keepalive (line 7): is disabled, but smtpd revokes a key unused for 90 days: a key its consumers do not use that long (a standby, a paused key, a rotation that keeps failing) would be revoked under them; set keepalive below 90 days, such as 168h0m0s (the default)"}},
		"smtpd keep-alive too rare": {"params: {role: send_only}", "params: {role: send_only}\n    keepalive: 13w", []string{
			"keys[0].keepalive (line 7): 2184h0m0s is not shorter than the 90 days after which smtpd revokes an unused key: a key its consumers do not use that long (a standby, a paused key, a rotation that keeps failing) would be revoked under them; set keepalive below 90 days, such as 168h0m0s (the default)"}},
		"Emailit keep-alive off is fine": {"params: {scope: sending}", "params: {scope: sending}\n    keepalive: 0s", nil},
		"smtpd budget": {"password: p}", "password: p, rate_limit: 0.01}\n  #", []string{
			"providers.smtpd.rate_limit (line 2): 0.01/s allows 36 requests an hour, but the keys of smtpd need at least 180 (keep-alive 180, rotations 0, orphan scans 0): 5.0 times the budget, so work falls behind; raise rate_limit if smtpd allows it, or lengthen keepalive or the schedules"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			yml := strings.Replace(policy, tc.from, tc.to, 1)
			if name == "smtpd budget" {
				yml = strings.Replace(yml, "params: {role: send_only}", "params: {role: send_only}\n    keepalive: 1m", 1)
			}
			if got := warnings(t, yml); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("warnings:\n got: %q\nwant: %q", got, tc.want)
			}
		})
	}
}

// TestBuildRequiresEmailitScope: an Emailit key must say its scope:
// Emailit's default, full, can manage keys.
func TestBuildRequiresEmailitScope(t *testing.T) {
	_, err := build(t, strings.Replace(policy, "    params: {scope: sending}\n", "", 1))
	want := "keys[1].params.scope (line 12): is required for an Emailit key: write params: {scope: sending} for a key that sends mail (the usual case); Emailit's default, full, can create and delete API keys, so write scope: full only for a key whose consumer must manage keys"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if _, err := build(t, strings.Replace(policy, "{scope: sending}", "{scope: full}", 1)); err != nil {
		t.Errorf("scope: full written out: %v", err)
	}
}
