package config

import (
	"strings"
	"testing"
	"time"
)

func TestRevocationPolicy(t *testing.T) {
	withDefaults := strings.Replace(good, "  grace: 24h\n", "  grace: 24h\n  revoke_when: unused\n  quiet: 5s\n", 1)
	withKey := strings.Replace(withDefaults, "    keepalive: 0s\n", "    keepalive: 0s\n    max_grace: 72h\n    on_max_grace: keep\n", 1)
	c, err := Load(strings.NewReader(withKey), "/etc/rotator")
	if err != nil {
		t.Fatal(err)
	}
	want0 := Revocation{When: RevokeWhenUnused, Quiet: 5 * time.Second, MaxGrace: DefaultMaxGrace, OnMaxGrace: OnMaxGraceRevoke}
	want1 := Revocation{When: RevokeWhenUnused, Quiet: 5 * time.Second, MaxGrace: 72 * time.Hour, OnMaxGrace: OnMaxGraceKeep}
	if c.Keys[0].Revocation != want0 || c.Keys[1].Revocation != want1 {
		t.Errorf("revocation = %+v, %+v; want %+v, %+v", c.Keys[0].Revocation, c.Keys[1].Revocation, want0, want1)
	}
	plain, err := Load(strings.NewReader(good), "/etc/rotator")
	if err != nil {
		t.Fatal(err)
	}
	if got := plain.Keys[0].Revocation; got != defaultRevocation() {
		t.Errorf("default revocation = %+v, want after grace", got)
	}
	for yaml, want := range map[string]string{
		"  revoke_when: never\n":                   `defaults.revoke_when (line 7): "never": want grace or unused`,
		"  quiet: 0s\n":                            "defaults.quiet (line 7): must be at least 1s",
		"  on_max_grace: ignore\n":                 `defaults.on_max_grace (line 7): "ignore": want revoke or keep`,
		"  revoke_when: unused\n  max_grace: 1h\n": "keys[0].max_grace",
	} {
		_, err := Load(strings.NewReader(strings.Replace(good, "  grace: 24h\n", "  grace: 24h\n"+yaml, 1)), "/etc/rotator")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", yaml, err, want)
		}
	}
}
