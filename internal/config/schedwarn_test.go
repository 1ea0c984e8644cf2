package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func warningsOf(t *testing.T, yml string) []string {
	t.Helper()
	c, err := Load(strings.NewReader(yml), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, w := range c.Warnings.List() {
		out = append(out, w.String())
	}
	return out
}

// TestScheduleWarnings: valid but unsafe schedules are warned about at
// check: grace at or above the time between rotations, and a schedule
// that fires more often than a rotation may take.
func TestScheduleWarnings(t *testing.T) {
	if got := warningsOf(t, good); len(got) != 0 {
		t.Fatalf("the good policy warns: %q", got)
	}
	tests := map[string]struct {
		from, to string
		want     []string
	}{
		"grace above @every": {`"0 3 * * 1"`, `"@every 1d"`, []string{
			`keys[0].grace (line 17): 48h0m0s is at or above the shortest time between rotations (24h0m0s, schedule "@every 1d"): the next rotation comes before the previous key is revoked, so superseded keys pile up at the provider; make grace shorter than 24h0m0s, or rotate less often`}},
		"grace equal to a weekday cron's shortest gap": {`grace: 48h`, `grace: 24h`, nil},
		"weekdays": {`"0 3 * * 1"`, `"0 3 * * 1-5"`, []string{
			`keys[0].grace (line 17): 48h0m0s is at or above the shortest time between rotations (24h0m0s, schedule "0 3 * * 1-5"): the next rotation comes before the previous key is revoked, so superseded keys pile up at the provider; make grace shorter than 24h0m0s, or rotate less often`}},
		"@every below the timeout": {`"0 3 * * 1"`, `"@every 1m"`, []string{
			`keys[0].grace (line 17): 48h0m0s is at or above the shortest time between rotations (1m0s, schedule "@every 1m"): the next rotation comes before the previous key is revoked, so superseded keys pile up at the provider; make grace shorter than 1m0s, or rotate less often`,
			`keys[0].schedule (line 16): "@every 1m" runs every 1m0s, less than one rotation may take (timeout 2m0s): rotations would run back to back; rotate less often, or lower timeout`}},
		"grace from defaults": {"  grace: 24h\n", "  grace: 800h\n", []string{
			`defaults.grace (line 6): 800h0m0s is at or above the shortest time between rotations (720h0m0s, schedule "@every 720h"): the next rotation comes before the previous key is revoked, so superseded keys pile up at the provider; make grace shorter than 720h0m0s, or rotate less often`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			yml := strings.Replace(good, tc.from, tc.to, 1)
			if got := warningsOf(t, yml); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("warnings:\n got: %q\nwant: %q", got, tc.want)
			}
		})
	}
}

// TestScheduleWarningsAreCounted: many keys inheriting one unsafe default
// get one warning at defaults; many keys setting one get three warnings
// and a count, not one line each.
func TestScheduleWarningsAreCounted(t *testing.T) {
	policy := func(key string) string {
		var b strings.Builder
		b.WriteString("defaults: {schedule: \"@every 1h\", grace: 2h}\nproviders:\n  p: {type: smtpd}\nsinks:\n  s: {type: file, dir: /out}\nkeys:\n")
		for i := range 10 {
			fmt.Fprintf(&b, "  - {name: k%d, provider: p, %ssinks: [{sink: s, path: k%d}]}\n", i, key, i)
		}
		return b.String()
	}
	got := warningsOf(t, policy(""))
	if len(got) != 1 || !strings.HasPrefix(got[0], "defaults.grace (line 1): 2h0m0s is at or above") {
		t.Errorf("inherited: %q", got)
	}
	got = warningsOf(t, policy("grace: 3h, "))
	if len(got) != 4 || !strings.HasPrefix(got[0], "keys[0].grace (line 7): 3h0m0s is at or above") ||
		got[3] != "keys: 7 more keys with grace at or above the time between rotations (the last: keys[9].grace)" {
		t.Errorf("set per key: %q", got)
	}
}

func TestIntervalOf(t *testing.T) {
	for spec, want := range map[string]Interval{
		"@every 30d":  {720 * time.Hour, 720 * time.Hour},
		"@daily":      {24 * time.Hour, 24 * time.Hour},
		"0 3 * * 1":   {168 * time.Hour, 168 * time.Hour},
		"0 3 * * 1-5": {24 * time.Hour, 34*time.Hour + 30*time.Minute},
	} {
		s, err := ParseSchedule(spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := IntervalOf(s); got != want {
			t.Errorf("%s: %+v, want %+v", spec, got, want)
		}
	}
}
