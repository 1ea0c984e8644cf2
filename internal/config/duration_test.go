package config

import (
	"strings"
	"testing"
	"time"
)

// TestDaysWorkInSchedulesToo: `d` and `w` are accepted wherever a
// duration is, @every included (cron alone refused "@every 30d" while
// "grace: 7d" worked).
func TestDaysWorkInSchedulesToo(t *testing.T) {
	c, err := Load(strings.NewReader(strings.Replace(good, `"0 3 * * 1"`, `"@every 30d"`, 1)), "/")
	if err != nil {
		t.Fatal(err)
	}
	k := c.Keys[0]
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := k.Schedule.Next(from).Sub(from); got != 720*time.Hour {
		t.Errorf("@every 30d fires after %s, want 720h", got)
	}
	if k.ScheduleSpec != "@every 30d" {
		t.Errorf("spec = %q, want it as written", k.ScheduleSpec)
	}
	if _, err := ParseSchedule("@every 2w"); err != nil {
		t.Errorf("@every 2w: %v", err)
	}
}

// TestDurationErrorsNameTheirPath: every duration error names its YAML
// path, wherever the duration is (top level, defaults, a key, state, a
// hook, a backend's section).
func TestDurationErrorsNameTheirPath(t *testing.T) {
	tests := map[string]struct{ yaml, want string }{
		"top level":        {"shutdown_timeout: soon\n" + good, `shutdown_timeout (line 1): invalid duration "soon" (use units such as 90s, 30m, 12h, 7d)`},
		"defaults":         {strings.Replace(good, "grace: 24h", "grace: 1 day", 1), `defaults.grace (line 6): invalid duration "1 day" (use units such as 90s, 30m, 12h, 7d)`},
		"a key":            {strings.Replace(good, "keepalive: 0s", "keepalive: [1h]", 1), `keys[1].keepalive (line 22): a duration must be a string such as "24h"`},
		"state":            {goodWith("{backend: postgres, dsn: x, lease_ttl: 10 s}"), `state.lease_ttl (line 1): invalid duration "10 s" (use units such as 90s, 30m, 12h, 7d)`},
		"@every":           {strings.Replace(good, `"0 3 * * 1"`, `"@every 30 days"`, 1), `keys[0].schedule (line 16): invalid schedule "@every 30 days": invalid duration "30 days" (use units such as 90s, 30m, 12h, 7d)`},
		"@every too short": {strings.Replace(good, `"0 3 * * 1"`, `"@every 0d"`, 1), `keys[0].schedule (line 16): invalid schedule "@every 0d": @every needs at least 1s`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tc.yaml), "/etc/rotator")
			if err == nil || err.Error() != tc.want {
				t.Errorf("error:\n got: %v\nwant: %s", err, tc.want)
			}
		})
	}

	c, err := Load(strings.NewReader(strings.Replace(good, `password: p}`, `password: p, request_timeout: 30 sec}`, 1)), "/")
	if err != nil {
		t.Fatal(err)
	}
	var pc struct {
		BaseURL        string   `yaml:"base_url"`
		Username       string   `yaml:"username"`
		Password       Secret   `yaml:"password"`
		RequestTimeout Duration `yaml:"request_timeout"`
	}
	want := `providers.smtpd-prod.request_timeout (line 8): invalid duration "30 sec" (use units such as 90s, 30m, 12h, 7d)`
	if err := c.Providers[0].Decode(&pc, "type"); err == nil || err.Error() != want {
		t.Errorf("section: %v, want %s", err, want)
	}
}

// TestEnvironmentDefaults: ${VAR:-default} is the shell's form (default
// when VAR is unset or empty); an unset ${VAR} without one, or a form
// rotator does not expand, is an error naming the path and the variable.
func TestEnvironmentDefaults(t *testing.T) {
	t.Setenv("ROTATOR_TEST_SET", "/srv")
	t.Setenv("ROTATOR_TEST_EMPTY", "")
	for in, want := range map[string]string{
		"${ROTATOR_TEST_SET:-/x}/out":     "/srv/out",
		"${ROTATOR_TEST_UNSET:-/x}/out":   "/x/out",
		"${ROTATOR_TEST_EMPTY:-/x}/out":   "/x/out",
		"${ROTATOR_TEST_UNSET:-}/out":     "/out",
		"${ROTATOR_TEST_UNSET:-a:b-c}$$x": "a:b-c$x",
	} {
		c, err := Load(strings.NewReader(strings.Replace(good, "dir: /out", "dir: \""+in+"\"", 1)), "/")
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		var dir struct {
			Dir string `yaml:"dir"`
		}
		if err := c.Sinks[0].Decode(&dir, "type"); err != nil || dir.Dir != want {
			t.Errorf("%s = %q (%v), want %q", in, dir.Dir, err, want)
		}
	}
	for in, want := range map[string]string{
		"${ROTATOR_TEST_UNSET}":   "sinks.local.dir (line 11): environment variable ROTATOR_TEST_UNSET is not set (give a default with ${ROTATOR_TEST_UNSET:-value}; $$ is a literal $)",
		"${ROTATOR_TEST_SET:=/x}": "sinks.local.dir (line 11): ${ROTATOR_TEST_SET:=/x} is not a form rotator expands: write ${VAR}, ${VAR:-default}, or $$ for a literal $",
		"${ROTATOR_TEST_SET":      "sinks.local.dir (line 11): ${ROTATOR_TEST_SET is not a form rotator expands: write ${VAR}, ${VAR:-default}, or $$ for a literal $",
	} {
		_, err := Load(strings.NewReader(strings.Replace(good, "dir: /out", "dir: \""+in+"\"", 1)), "/")
		if err == nil || err.Error() != want {
			t.Errorf("%s:\n got: %v\nwant: %s", in, err, want)
		}
	}
}
