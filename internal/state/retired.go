package state

// Target is one sink target a key was written to, recorded so that the
// key's provider keys can still be checked against it once the key has
// left the policy. It holds the target's options (a path, a secret id),
// never a credential.
type Target struct {
	// Sink is the configured sink's name.
	Sink string `json:"sink"`
	// Target is the target's description ("vault secret/mail/smtpd-send").
	Target string `json:"target"`
	// Spec is the target's options (its YAML section without sink and
	// fields, as JSON), from which it is bound again.
	Spec string `json:"spec,omitempty"`
	// Fields renames credential fields at this target.
	Fields map[string]string `json:"fields,omitempty"`
}

// Idle reports whether the record holds no provider key at all (none
// current, none superseded, no rotation in flight): a retired key.
func (k Key) Idle() bool {
	return k.Current == nil && len(k.Retiring) == 0 && k.Rotation == nil
}
