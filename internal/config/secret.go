package config

// Secret is a configuration value that holds a credential: a password, a
// token, an API key. It never prints: String and MarshalYAML return
// "<secret>". Use Reveal where the value is really needed.
type Secret string

// String hides the value.
func (Secret) String() string { return "<secret>" }

// GoString hides the value from %#v.
func (Secret) GoString() string { return "<secret>" }

// MarshalYAML hides the value when a configuration is printed.
func (s Secret) MarshalYAML() (any, error) {
	if s == "" {
		return "", nil
	}
	return "<secret>", nil
}

// Reveal returns the value itself.
func (s Secret) Reveal() string { return string(s) }
