package config

import (
	"strconv"
	"time"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Interval is how often a schedule fires: Min is the shortest gap between
// two runs (what "grace at or above the rotation interval" is about) and
// Mean the average (what a request budget must sustain). They are
// measured over the next 32 runs after 2026-01-01 UTC, so a weekday
// schedule has Min 24h and Mean 34.5h (the 32 runs are not whole weeks);
// @every is exact.
type Interval struct{ Min, Mean time.Duration }

// intervalSamples is how many gaps Interval measures.
const intervalSamples = 32

var intervalFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// IntervalOf measures s (nil: zero).
func IntervalOf(s cron.Schedule) Interval {
	if s == nil {
		return Interval{}
	}
	if c, ok := s.(cron.ConstantDelaySchedule); ok {
		return Interval{Min: c.Delay, Mean: c.Delay}
	}
	prev := s.Next(intervalFrom)
	first, iv := prev, Interval{}
	for range intervalSamples {
		next := s.Next(prev)
		if next.IsZero() {
			return Interval{}
		}
		if gap := next.Sub(prev); iv.Min == 0 || gap < iv.Min {
			iv.Min = gap
		}
		prev = next
	}
	iv.Mean = prev.Sub(first) / intervalSamples
	return iv
}

// maxSameWarnings is how many keys get their own warning of one kind;
// the rest are counted in one more (10,000 keys inheriting one default
// would otherwise log 10,000 lines).
const maxSameWarnings = 3

// KeyWarnings warns about keys of one kind of problem, naming the first
// few and counting the rest.
type KeyWarnings struct {
	ws    *Warnings
	seen  map[Warning]bool
	n     int
	extra string // what the summary says, e.g. "grace at or above ..."
	last  Warning
}

// NewKeyWarnings reports to ws; summary names the problem in the
// closing "and N more keys ..." warning.
func NewKeyWarnings(ws *Warnings, summary string) *KeyWarnings {
	return &KeyWarnings{ws: ws, extra: summary, seen: map[Warning]bool{}}
}

// Warn records w, or counts it once maxSameWarnings have been recorded.
// A warning already recorded (about a default many keys inherit) is
// recorded once.
func (kw *KeyWarnings) Warn(w Warning) {
	if kw.seen[w] {
		return
	}
	kw.seen[w] = true
	kw.n++
	if kw.n <= maxSameWarnings {
		kw.ws.Add(w)
	}
	kw.last = w
}

// Close records the summary of the warnings Warn did not record.
func (kw *KeyWarnings) Close() {
	if more := kw.n - maxSameWarnings; more > 0 {
		kw.ws.Add(Warning{Path: "keys", Msg: plural(more, "more key") + " with " + kw.extra + " (the last: " + kw.last.Path + ")"})
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// warnSchedules warns about a key whose schedule is valid but unsafe:
// grace at or above the shortest time between rotations (superseded keys
// pile up at the provider: a new key is made before the previous one is
// revoked), or runs closer together than one rotation may take (timeout).
// keysNode is the keys: sequence, whose items are c.Keys in order; a
// setting a key inherits is warned about at defaults.
func (c *Config) warnSchedules(keysNode, defaultsNode *yaml.Node) {
	defaults := Section{Path: "defaults", Node: defaultsNode, Warnings: c.Warnings}
	grace := NewKeyWarnings(c.Warnings, "grace at or above the time between rotations")
	busy := NewKeyWarnings(c.Warnings, "a schedule closer than a rotation may take")
	intervals := map[string]Interval{}
	for i, k := range c.Keys {
		iv, ok := intervals[k.ScheduleSpec]
		if !ok {
			iv = IntervalOf(k.Schedule)
			intervals[k.ScheduleSpec] = iv
		}
		if iv.Min <= 0 {
			continue
		}
		sec := Section{Path: k.Path, Warnings: c.Warnings}
		if keysNode != nil && i < len(keysNode.Content) {
			sec.Node = keysNode.Content[i]
		}
		// The key's section when it sets one of the fields at fault,
		// else defaults.
		at := func(fields ...string) Section {
			for _, f := range fields {
				if sec.Has(f) {
					return sec
				}
			}
			return defaults
		}
		if k.Grace >= iv.Min {
			grace.Warn(at("grace", "schedule").warning("grace", "%s is at or above the shortest time between rotations (%s, schedule %q): the next rotation comes before the previous key is revoked, so superseded keys pile up at the provider; make grace shorter than %s, or rotate less often",
				k.Grace, iv.Min, k.ScheduleSpec, iv.Min))
		}
		if iv.Min < k.Timeout {
			busy.Warn(at("schedule", "timeout").warning("schedule", "%q runs every %s, less than one rotation may take (timeout %s): rotations would run back to back; rotate less often, or lower timeout",
				k.ScheduleSpec, iv.Min, k.Timeout))
		}
	}
	grace.Close()
	busy.Close()
}
