package rotate

import (
	"reflect"
	"testing"

	"github.com/rotator-dev/rotator/internal/state"
)

func TestDecideRetire(t *testing.T) {
	pk := func(id string) *state.ProviderKey {
		return &state.ProviderKey{Provider: "smtpd", ID: id, Name: "rot-" + id}
	}
	revoke := func(id string) Action { return Action{Kind: ActRevoke, Reason: ReasonRetired, KeyID: id} }
	sweep := func(name string) Action { return Action{Kind: ActSweep, Reason: ReasonRetired, Name: name} }
	for _, tc := range []struct {
		name string
		st   state.Key
		want []Action
	}{
		{name: "nothing left", st: state.Key{Name: "k"}},
		{name: "current only", st: state.Key{Name: "k", Current: pk("3")}, want: []Action{revoke("3")}},
		{
			name: "every kind, in order",
			st: state.Key{Name: "k", Current: pk("3"),
				Rotation: &state.Rotation{ID: "r1", Provider: "smtpd", KeyName: "rot-4", KeyID: "4"},
				Retiring: []state.Retiring{{ProviderKey: *pk("1")}, {ProviderKey: *pk("2")}},
				Watch:    []state.Watched{{Provider: "smtpd", Name: "rot-x"}}},
			want: []Action{revoke("4"), revoke("1"), revoke("2"), revoke("3"), sweep("rot-x")},
		},
		{
			name: "a rotation whose create had no answer is looked up by name",
			st:   state.Key{Name: "k", Current: pk("3"), Rotation: &state.Rotation{ID: "r1", Provider: "smtpd", KeyName: "rot-5"}},
			want: []Action{sweep("rot-5"), revoke("3")},
		},
		{
			name: "a key listed twice is revoked once",
			st: state.Key{Name: "k", Current: pk("3"),
				Rotation: &state.Rotation{ID: "r1", Provider: "smtpd", KeyName: "rot-3", KeyID: "3"},
				Watch:    []state.Watched{{Name: "rot-x"}, {Name: "rot-x"}}},
			want: []Action{revoke("3"), sweep("rot-x")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DecideRetire(tc.st).Actions
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("DecideRetire = %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// TestRetireRecordKeepsWhatIsLeft: executing a retire decision drops from
// the record exactly the keys that were revoked or found gone.
func TestRetireRecordKeepsWhatIsLeft(t *testing.T) {
	st := state.Key{Name: "k", Current: &state.ProviderKey{ID: "3"},
		Rotation: &state.Rotation{ID: "r1", KeyName: "rot-5"},
		Retiring: []state.Retiring{{ProviderKey: state.ProviderKey{ID: "1"}}, {ProviderKey: state.ProviderKey{ID: "2"}}},
		Watch:    []state.Watched{{Name: "rot-x"}}}
	dropFromRecord(&st, Action{Kind: ActRevoke, KeyID: "1"})
	dropFromRecord(&st, Action{Kind: ActSweep, Name: "rot-5"})
	if len(st.Retiring) != 1 || st.Retiring[0].ID != "2" || st.Rotation != nil || st.Current == nil || len(st.Watch) != 1 {
		t.Errorf("record after two done actions: %+v", st)
	}
	if rv := recordRevocation(st, "3"); rv.ID != "3" {
		t.Errorf("recordRevocation(3) = %+v", rv)
	}
}
