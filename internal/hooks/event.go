package hooks

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"time"

	"github.com/rotator-dev/rotator/internal/rotate"
)

// Event is the JSON body of a webhook (docs/consumers.md). It never holds
// a secret.
type Event struct {
	// ID is the delivery's id, the same in each retry: receivers drop
	// one they have seen.
	ID    string `json:"id"`
	Event string `json:"event"`
	Key   string `json:"key"`
	// KeyID is the current key (converged, failed, emergency) or the key
	// revoked (revoked); OldKeyIDs are the superseded keys.
	KeyID     string   `json:"key_id"`
	OldKeyIDs []string `json:"old_key_ids"`
	Targets   []string `json:"targets"`
	// Time is when it happened; SentAt when this attempt was signed:
	// receivers refuse a body whose sent_at is more than 5 minutes off.
	Time    time.Time `json:"time"`
	SentAt  time.Time `json:"sent_at"`
	Trigger string    `json:"trigger"`
	Error   string    `json:"error"`
}

func newEvent(ev rotate.HookEvent) Event {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	e := Event{ID: hex.EncodeToString(id), Event: ev.Event, Key: ev.Key, KeyID: ev.KeyID,
		OldKeyIDs: append([]string{}, ev.OldKeyIDs...), Targets: append([]string{}, ev.Targets...),
		Time: ev.Time.UTC(), Trigger: ev.Trigger, Error: ev.Error}
	return e
}

func (e Event) body(sentAt time.Time) []byte {
	e.SentAt = sentAt.UTC()
	b, _ := json.Marshal(e) // strings, slices and times: cannot fail
	return b
}

// env is an exec hook's environment: the event, and PATH (so that a bare
// command name and the programs a script calls are found). Nothing else
// of the daemon's environment is passed on.
func env(ev rotate.HookEvent) []string {
	out := []string{
		"ROTATOR_EVENT=" + ev.Event,
		"ROTATOR_KEY=" + ev.Key,
		"ROTATOR_KEY_ID=" + ev.KeyID,
		"ROTATOR_OLD_KEY_IDS=" + strings.Join(ev.OldKeyIDs, " "),
		"ROTATOR_TARGETS=" + strings.Join(ev.Targets, "\n"),
		"ROTATOR_TIME=" + ev.Time.UTC().Format(time.RFC3339),
		"ROTATOR_TRIGGER=" + ev.Trigger,
		"ROTATOR_ERROR=" + ev.Error,
	}
	if p, ok := os.LookupEnv("PATH"); ok {
		out = append(out, "PATH="+p)
	} else {
		out = append(out, "PATH=/usr/local/bin:/usr/bin:/bin")
	}
	return out
}
