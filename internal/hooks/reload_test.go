package hooks

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rotator-dev/rotator/internal/config"
)

// After a policy reload, events run the new hooks and references: a hook
// added, a hook's command changed, a key added, a reference removed.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	touch := func(name string) config.Hook { return execHook(name, "/bin/touch", filepath.Join(dir, name)) }
	g := newRig(t, Options{Hooks: []config.Hook{touch("a"), touch("b")}, Keys: []config.Key{
		keyWith("mail", config.HookRef{Hook: "a", On: config.Events}, config.HookRef{Hook: "b", On: config.Events})}})
	g.r.Start(nil)

	changed := execHook("a", "/bin/touch", filepath.Join(dir, "a2"))
	next, err := New(Options{Hooks: []config.Hook{changed, touch("c")}, Keys: []config.Key{
		keyWith("mail", config.HookRef{Hook: "a", On: config.Events}),
		keyWith("news", config.HookRef{Hook: "c", On: config.Events})}})
	if err != nil {
		t.Fatal(err)
	}
	g.r.Reload(next)
	g.r.Notify(event(config.EventConverged, "mail", "k2"))
	g.r.Notify(event(config.EventConverged, "news", "n2"))
	g.waitRuns("a", 1)
	g.waitRuns("c", 1)
	g.waitRuns("a", 1) // b, no longer referenced, would have run by now: its lane is as fast
	for name, want := range map[string]bool{"a": false, "a2": true, "b": false, "c": true} {
		if _, err := os.Stat(filepath.Join(dir, name)); (err == nil) != want {
			t.Errorf("%s touched: %v, want %v\n%s", name, err == nil, want, g.logText())
		}
	}
	if g.r.Len() != 2 || g.runs("c", "converged", "success") != 1 {
		t.Errorf("len %d, runs of c %v", g.r.Len(), g.runs("c", "converged", "success"))
	}
}
