package config

// Settings is a copy of c without its policy (providers, sinks, hooks and
// keys): what a daemon keeps once wire has built the policy. The policy's
// sections hold YAML trees, which then become garbage instead of living as
// long as the daemon (sizes: docs/performance.md).
func (c *Config) Settings() *Config {
	s := *c
	s.Providers, s.Sinks, s.Hooks, s.Keys = nil, nil, nil, nil
	return &s
}
