package config

import (
	"strings"
	"testing"
)

// Settings keeps the daemon's settings and none of the policy, and leaves
// the loaded configuration as it was.
func TestSettingsDropsThePolicyOnly(t *testing.T) {
	c, err := Load(strings.NewReader(good), "/etc/rotator")
	if err != nil {
		t.Fatal(err)
	}
	s := c.Settings()
	if s.Listen != c.Listen || s.StatePath != c.StatePath || s.MaxConcurrent != c.MaxConcurrent ||
		s.ShutdownTimeout != c.ShutdownTimeout || s.BaseDir != c.BaseDir || s.State != c.State {
		t.Errorf("settings %+v differ from the loaded ones %+v", s, c)
	}
	if s.Providers != nil || s.Sinks != nil || s.Hooks != nil || s.Keys != nil {
		t.Errorf("settings keep the policy: %d providers, %d sinks, %d hooks, %d keys", len(s.Providers), len(s.Sinks), len(s.Hooks), len(s.Keys))
	}
	if len(c.Keys) != 2 || len(c.Providers) != 2 || c.Keys[0].Targets[0].Section.Node == nil {
		t.Error("Settings changed the loaded configuration")
	}
}
