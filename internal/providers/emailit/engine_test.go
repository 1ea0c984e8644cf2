package emailit

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/rotate/rotatetest"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/file"
)

// rig is the shared engine rig rotating one key "mail" at Emailit (the
// test server) into a real file sink, with a real state file; the engine
// logs into the env's core, which the env checks for secrets.
type rig struct {
	*env
	*rotatetest.Rig
	target sinks.Target
}

func newRig(t *testing.T, e *env, params map[string]string, mutate func(*config.Key)) *rig {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o700); err != nil {
		t.Fatal(err)
	}
	fcfg, err := file.ParseConfig(section(t, dir, "type: file\ndir: out\n"))
	if err != nil {
		t.Fatal(err)
	}
	fsink, err := file.New(fcfg, sinks.Deps{Name: "out", Logger: zap.New(e.core), Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	target, err := fsink.Bind(section(t, dir, "sink: out\npath: mail.json\n"))
	if err != nil {
		t.Fatal(err)
	}
	return &rig{env: e, target: target, Rig: rotatetest.New(t, rotatetest.Options{
		Clock: e.clock, Core: e.core, Provider: e.p, Targets: []rotate.BoundTarget{{Sink: "out", Target: target}}, NoEvents: true,
		Key: func(k *config.Key) {
			k.Provider, k.Params, k.ScheduleSpec = "emailit", params, "@every 720h"
			if mutate != nil {
				mutate(k)
			}
		},
	})}
}

func (r *rig) eval(t *testing.T, mode rotate.Mode) (rotate.Outcome, error) {
	t.Helper()
	out, err, _ := r.Eval(mode)
	return out, r.track(err)
}

// sinkKey returns the api_key the file sink holds and checks the server
// accepts it.
func (r *rig) sinkKey(t *testing.T) (id, key string) {
	t.Helper()
	got, err := r.target.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r.srv.Valid(providers.Credential{"api_key": got["api_key"]}) {
		t.Fatalf("the sink holds key %s, which Emailit refuses", got[rotate.FieldKeyID])
	}
	return got[rotate.FieldKeyID], got["api_key"]
}

// live returns the ids of the keys at the server, the management key aside.
func (r *rig) live() []string {
	var ids []string
	for _, k := range r.srv.Keys() {
		if !k.Management {
			ids = append(ids, k.ID)
		}
	}
	return ids
}

func TestEngineRotateGraceRevokeKeepAlive(t *testing.T) {
	r := newRig(t, newEnv(t, emailittest.Config{}, nil), map[string]string{"scope": "full"}, nil)
	out, err := r.eval(t, rotate.Mode{Force: true})
	if err != nil || !out.Rotated {
		t.Fatalf("first rotation: %+v %v", out, err)
	}
	first, _ := r.sinkKey(t)

	out, err = r.eval(t, rotate.Mode{Force: true})
	if err != nil || !out.Rotated {
		t.Fatalf("second rotation: %+v %v", out, err)
	}
	second, _ := r.sinkKey(t)
	if second == first {
		t.Fatal("the sink still holds the first key")
	}
	if got := r.live(); len(got) != 2 {
		t.Fatalf("during grace %d keys live, want 2 (old and new)", len(got))
	}

	r.clock.Advance(time.Hour + time.Minute)
	out, err = r.eval(t, rotate.Mode{})
	if err != nil || out.Revoked != 1 {
		t.Fatalf("after grace: %+v %v", out, err)
	}
	if got := r.live(); len(got) != 1 || got[0] != second {
		t.Fatalf("live keys %v, want only %s", got, second)
	}

	// Keep-alive uses the key itself: Emailit records the use.
	r.clock.Advance(7 * time.Hour)
	out, err = r.eval(t, rotate.Mode{})
	if err != nil || !out.KeptAlive {
		t.Fatalf("keep-alive: %+v %v", out, err)
	}
	if used := record(t, r.srv, second).LastUsedAt; used.Before(r.clock.Now().Add(-time.Minute)) {
		t.Fatalf("last_used_at %v after keep-alive at %v", used, r.clock.Now())
	}
}

func TestEngineDroppedCreate(t *testing.T) {
	r := newRig(t, newEnv(t, emailittest.Config{}, nil), map[string]string{"scope": "sending"}, nil)
	r.srv.DropNextCreate()
	if _, err := r.eval(t, rotate.Mode{Force: true}); providers.ReasonOf(err) != providers.ReasonTimeout {
		t.Fatalf("rotation with a dropped create: %v, want a timeout", err)
	}
	if got := r.live(); len(got) != 0 {
		t.Fatalf("the key created by the dropped call is still live: %v", got)
	}
	if out, err := r.eval(t, rotate.Mode{Force: true}); err != nil || !out.Rotated {
		t.Fatalf("next rotation: %+v %v", out, err)
	}
	id, _ := r.sinkKey(t)
	if got := r.live(); len(got) != 1 || got[0] != id {
		t.Fatalf("live keys %v, want only %s", got, id)
	}
}

// An earlier attempt created the key under the recorded name and its
// answer was lost: create gets 409, the engine deletes that key and the
// next rotation uses a new name.
func TestEngineConflict(t *testing.T) {
	r := newRig(t, newEnv(t, emailittest.Config{}, nil), map[string]string{"scope": "sending"}, nil)
	r.Failpoint = func(p string) {
		if p == "after-intent" {
			r.Failpoint = nil
			r.srv.CreateKey(r.State().Rotation.KeyName, "sending")
		}
	}
	_, err := r.eval(t, rotate.Mode{Force: true})
	if providers.ReasonOf(err) != providers.ReasonConflict {
		t.Fatalf("rotation: %v, want a conflict", err)
	}
	if got := r.live(); len(got) != 0 {
		t.Fatalf("the conflicting key is still live: %v", got)
	}
	if out, err := r.eval(t, rotate.Mode{Force: true}); err != nil || !out.Rotated {
		t.Fatalf("next rotation: %+v %v", out, err)
	}
	r.sinkKey(t)
}

func TestEngineRateLimited(t *testing.T) {
	r := newRig(t, newEnv(t, emailittest.Config{}, nil), map[string]string{"scope": "sending"}, nil)
	for _, op := range []string{emailittest.OpCreate, emailittest.OpGet, emailittest.OpList, emailittest.OpDelete} {
		r.srv.FailNext(op, 1, http.StatusTooManyRequests)
	}
	for i := 0; i < 2; i++ {
		if out, err := r.eval(t, rotate.Mode{Force: true}); err != nil || !out.Rotated {
			t.Fatalf("rotation %d through 429s: %+v %v", i, out, err)
		}
	}
	r.clock.Advance(2 * time.Hour)
	if out, err := r.eval(t, rotate.Mode{}); err != nil || out.Revoked != 1 {
		t.Fatalf("revocation through a 429: %+v %v", out, err)
	}
	if _, err := r.Engine.ScanOrphans(ctx, "emailit"); err != nil {
		t.Fatalf("orphan scan through a 429: %v", err)
	}
	if got := r.srv.RateLimited(); got < 3 {
		t.Fatalf("RateLimited = %d; the injected 429s were not all met", got)
	}
}

// Orphans hide among 250 other keys, beyond the first page.
func TestEngineOrphansAcrossPages(t *testing.T) {
	for _, style := range []string{emailittest.PageURLAbsolute, emailittest.PageURLPath} {
		t.Run(style, func(t *testing.T) {
			r := newRig(t, newEnv(t, emailittest.Config{PageURLStyle: style}, nil), map[string]string{"scope": "sending"},
				func(k *config.Key) { k.PruneOrphans = true })
			if out, err := r.eval(t, rotate.Mode{Force: true}); err != nil || !out.Rotated {
				t.Fatalf("rotation: %+v %v", out, err)
			}
			for i := 0; i < 250; i++ {
				r.srv.CreateKey(fmt.Sprintf("rotator-other-20261123T090000Z-%06d", i), "sending")
			}
			orphan := r.srv.CreateKey("rotator-mail-20261120T030000Z-zz9zz9", "sending")
			r.clock.Advance(time.Hour) // older than the orphan minimum age
			left, err := r.Engine.ScanOrphans(ctx, "emailit")
			if err != nil || left != 0 {
				t.Fatalf("scan: %d left, %v", left, r.track(err))
			}
			if r.srv.Valid(providers.Credential{"api_key": orphan.Key}) {
				t.Fatal("the orphan on the last page was not pruned")
			}
			id, _ := r.sinkKey(t)
			if got := len(r.live()); got != 251 {
				t.Fatalf("%d keys live, want the current %s and the 250 others", got, id)
			}
		})
	}
}
