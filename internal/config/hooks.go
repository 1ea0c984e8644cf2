package config

// Hook events, as a key's hook references name them (on: [...]).
const (
	EventConverged = "converged" // every sink holds the new key
	EventRevoked   = "revoked"   // a superseded key was revoked
	EventFailed    = "failed"    // a rotation failed
	EventEmergency = "emergency" // a rotation started because the key leaked or the provider rejected it
)

// HookRef is one of a key's hooks: which named hook (under the top-level
// hooks:) runs on which events, and whether the old key's revocation
// waits for its success on converged.
type HookRef struct {
	Hook            string
	On              []string
	BlockRevocation bool
	// Path is the reference's YAML path, for errors.
	Path string
}

// BlockingHooks are the names of the key's hooks whose success on
// converged the old key's revocation waits for.
func (k Key) BlockingHooks() []string {
	var out []string
	for _, h := range k.Hooks {
		if h.BlockRevocation {
			out = append(out, h.Hook)
		}
	}
	return out
}
