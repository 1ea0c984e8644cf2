package state

import "slices"

// ProviderKeys are the provider keys the record knows: the current key,
// the superseded ones, then the new key of a rotation in flight (by name
// only while its create has no answer).
func (k Key) ProviderKeys() []ProviderKey {
	var out []ProviderKey
	if k.Current != nil {
		out = append(out, *k.Current)
	}
	for _, rt := range k.Retiring {
		out = append(out, rt.ProviderKey)
	}
	if rot := k.Rotation; rot != nil {
		out = append(out, ProviderKey{Provider: rot.Provider, ID: rot.KeyID, Name: rot.KeyName})
	}
	return out
}

// Tracks reports whether the record accounts for the provider key with
// this id and provider-side name: as one of its ProviderKeys, by the name
// of the rotation in flight, or by a watched name. A live key at the
// provider that no record tracks is an orphan.
func (k Key) Tracks(id, name string) bool {
	for _, pk := range k.ProviderKeys() {
		if (pk.ID != "" && pk.ID == id) || (pk.ID == "" && pk.Name != "" && pk.Name == name) {
			return true
		}
	}
	if rot := k.Rotation; rot != nil && name != "" && rot.KeyName == name {
		return true
	}
	return name != "" && slices.ContainsFunc(k.Watch, func(w Watched) bool { return w.Name == name })
}
