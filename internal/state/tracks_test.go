package state

import "testing"

func TestTracks(t *testing.T) {
	k := Key{Name: "k",
		Current:  &ProviderKey{ID: "3", Name: "rot-3"},
		Retiring: []Retiring{{ProviderKey: ProviderKey{ID: "1", Name: "rot-1"}}},
		Rotation: &Rotation{ID: "r", KeyName: "rot-5"},
		Watch:    []Watched{{Name: "rot-w"}}}
	for _, tc := range []struct {
		id, name string
		want     bool
	}{
		{"3", "other", true},  // current, by id
		{"1", "", true},       // superseded, by id
		{"9", "rot-5", true},  // the rotation in flight, by its name
		{"8", "rot-w", true},  // a watched name
		{"7", "rot-7", false}, // an orphan
		{"", "", false},       // nothing matches empty ids and names
		{"6", "rot-3", false}, // a current key's name under another id is not it
	} {
		if got := k.Tracks(tc.id, tc.name); got != tc.want {
			t.Errorf("Tracks(%q, %q) = %v, want %v", tc.id, tc.name, got, tc.want)
		}
	}
	if got := len(k.ProviderKeys()); got != 3 {
		t.Errorf("ProviderKeys: %d keys, want 3 (current, superseded, in flight)", got)
	}
}
