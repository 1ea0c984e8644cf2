package rotate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks/sinktest"
	"github.com/rotator-dev/rotator/internal/state"
)

// A reload adds a key (rotated at once), adds a target to a key (which
// receives the current credential without a rotation), and removes a key
// (no longer rotated, its state kept and shown as not in the policy).
func TestReloadAddsKeysAndTargetsAndRemovesKeys(t *testing.T) {
	h := newHarness(t, nil)
	h.MustEval(rotate.Mode{})
	cur := h.State().Current.ID
	creates := h.Prov.Calls("create")

	mail := h.Engine.Managed("mail")
	grown := *mail
	added := sinktest.NewMemoryTarget("c")
	grown.Targets = append(append([]rotate.BoundTarget(nil), mail.Targets...), rotate.BoundTarget{Sink: "c", Target: added})
	news := *mail
	news.Policy.Name = "news"
	provs := map[string]providers.Provider{"mem": &h.Prov.Provider}
	res, err := h.Engine.Reload(rotate.Policy{Keys: []*rotate.Managed{&grown, &news}, Providers: provs})
	if err != nil || len(res.Added) != 1 || res.Added[0] != "news" {
		t.Fatalf("reload: %+v, %v", res, err)
	}
	out := h.MustEval(rotate.Mode{})
	if out.Rotated || h.Prov.Calls("create") != creates {
		t.Fatal("adding a target rotated the key")
	}
	got, err := added.Current()
	if err != nil || got[rotate.FieldKeyID] != cur || got["api_key"] == "" {
		t.Fatalf("added target holds %v (%v), want the current key %s", got[rotate.FieldKeyID], err, cur)
	}
	if h.State().SyncTargets {
		t.Error("the sync is still pending after it succeeded")
	}
	if out, err := h.Engine.Evaluate(context.Background(), "news", rotate.Mode{}); err != nil || !out.Rotated {
		t.Fatalf("the added key was not rotated at once: %+v, %v", out, err)
	}

	if _, err := h.Engine.Reload(rotate.Policy{Keys: []*rotate.Managed{&grown}, Providers: provs}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Engine.Evaluate(context.Background(), "news", rotate.Mode{}); !errors.Is(err, rotate.ErrUnknownKey) {
		t.Fatalf("a removed key is still evaluated: %v", err)
	}
	newsState, _ := h.Store.Get("news")
	rows := h.Engine.Status([]state.Key{h.State(), newsState})
	if len(rows) != 2 || rows[1].Key != "news" || rows[1].Managed || rows[1].CurrentKeyID == "" {
		t.Errorf("status rows %+v, want news listed as not in the policy with its key", rows)
	}
	if !h.active(newsState.Current.ID) {
		t.Error("removing a key from the policy revoked its provider key")
	}
}
