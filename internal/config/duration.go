package config

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as Go durations ("90s",
// "1h30m", "0s") or with day and week units ("90d", "2w").
type Duration time.Duration

// ParseDuration parses the forms Duration accepts.
func ParseDuration(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	return 0, fmt.Errorf("invalid duration %q (use units such as 90s, 30m, 12h, 7d)", s)
}

// UnmarshalYAML implements yaml.v3's yaml.Unmarshaler (the *yaml.Node form).
// Section.Decode and Load check every Duration first (checkDuration), so
// that the error names the YAML path; this is the fallback for other
// decoders.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := durationOf(n)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

func durationOf(n *yaml.Node) (time.Duration, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, errors.New(`a duration must be a string such as "24h"`)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return 0, err
	}
	if v < 0 {
		return 0, fmt.Errorf("duration %q is negative", n.Value)
	}
	return v, nil
}

// checkDuration is the error durationOf gives n, with the node's line and
// a path that known fills in.
func checkDuration(n *yaml.Node) *FieldError {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if _, err := durationOf(n); err != nil {
		return &FieldError{Line: n.Line, Err: err}
	}
	return nil
}

// MarshalYAML writes the Go form.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }
