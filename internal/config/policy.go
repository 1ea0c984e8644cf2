package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// policy is the resolved set of per-key settings that defaults may set.
type policy struct {
	schedule                          string
	grace, keepalive, jitter, timeout time.Duration
	prefix                            string
	prune                             bool
	revocation                        Revocation
}

func (p *policy) apply(r rawPolicy, sec Section) error {
	var errs []error
	if r.Schedule != nil {
		p.schedule = *r.Schedule
		if _, err := ParseSchedule(p.schedule); err != nil {
			errs = append(errs, sec.Field("schedule", err))
		}
	}
	if r.Grace != nil {
		p.grace = r.Grace.D()
	}
	if r.KeepAlive != nil {
		p.keepalive = r.KeepAlive.D()
		if p.keepalive != 0 && p.keepalive < time.Second {
			errs = append(errs, sec.Errorf("keepalive", "must be 0s (disabled) or at least 1s"))
		}
	}
	if r.Jitter != nil {
		p.jitter = r.Jitter.D()
	}
	if r.Timeout != nil {
		p.timeout = r.Timeout.D()
		if p.timeout <= 0 {
			errs = append(errs, sec.Errorf("timeout", "must be positive"))
		}
	}
	if r.NamePrefix != nil {
		p.prefix = *r.NamePrefix
		if !prefixRE.MatchString(p.prefix) {
			errs = append(errs, sec.Errorf("name_prefix", "%q must be 1-32 characters of a-z, 0-9 and -, starting with a letter or digit", p.prefix))
		}
	}
	if r.PruneOrphans != nil {
		p.prune = *r.PruneOrphans
	}
	errs = append(errs, p.revocation.apply(r.rawRevocation, sec))
	return errors.Join(errs...)
}

// ParseSchedule parses a robfig/cron schedule: five fields, descriptors
// (@daily), @every DURATION, and a CRON_TZ= prefix. @every takes every
// form a Duration does ("@every 30d", "@every 2w"), like grace and
// keepalive; cron itself knows only Go's units, so days and weeks are
// rewritten to hours before it parses.
func ParseSchedule(spec string) (cron.Schedule, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("schedule is empty")
	}
	parsed := spec
	if d, ok := strings.CutPrefix(strings.TrimSpace(spec), "@every "); ok {
		v, err := ParseDuration(strings.TrimSpace(d))
		if err != nil {
			return nil, fmt.Errorf("invalid schedule %q: %w", spec, err)
		}
		// cron silently rounds anything below a second up to 1s.
		if v < time.Second {
			return nil, fmt.Errorf("invalid schedule %q: @every needs at least 1s", spec)
		}
		parsed = "@every " + v.String()
	}
	s, err := cron.ParseStandard(parsed)
	if err != nil {
		return nil, fmt.Errorf("invalid schedule %q: %w", spec, err)
	}
	return s, nil
}
