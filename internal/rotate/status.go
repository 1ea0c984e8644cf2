package rotate

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/state"
)

// StatusRow is one key in --status and /status. It carries ids, names and
// times, never a credential.
type StatusRow struct {
	Key                string              `json:"key"`
	Provider           string              `json:"provider"`
	Managed            bool                `json:"managed"`
	CurrentKeyID       string              `json:"current_key_id,omitempty"`
	CreatedAt          time.Time           `json:"created_at,omitzero"`
	NextRotation       time.Time           `json:"next_rotation,omitzero"`
	RotationInFlight   string              `json:"rotation_in_flight,omitempty"`
	PendingRevocations []PendingRevocation `json:"pending_revocations,omitempty"`
	LastKeepAlive      time.Time           `json:"last_keepalive,omitzero"`
	LastUsed           time.Time           `json:"last_used,omitzero"`
	Failures           int                 `json:"consecutive_failures,omitempty"`
	LastError          string              `json:"last_error,omitempty"`
	Paused             bool                `json:"paused"`
	PausedBy           string              `json:"paused_by,omitempty"`
	PauseReason        string              `json:"pause_reason,omitempty"`
}

// PendingRevocation is a superseded key waiting to be revoked.
type PendingRevocation struct {
	KeyID     string    `json:"key_id"`
	Deadline  time.Time `json:"deadline"`
	Attempts  int       `json:"attempts,omitempty"`
	LastError string    `json:"last_error,omitempty"`
}

// Status builds the rows for the configured keys and, as unmanaged
// (Managed false), any key the state still remembers but the policy no
// longer has and that was not retired, as of now.
func Status(keys []config.Key, records []state.Key, now time.Time) []StatusRow {
	return status(len(keys), func(i int) *config.Key { return &keys[i] }, records, now)
}

// Status is the table of every managed key's state, from the policies the
// engine holds (the daemon drops the loaded configuration's copy).
func (e *Engine) Status(records []state.Key) []StatusRow {
	rs := e.runners()
	return status(len(rs), func(i int) *config.Key { return &rs[i].managed().Policy }, records, e.clock.Now())
}

// Len is the number of managed keys.
func (e *Engine) Len() int { return len(e.names()) }

func status(n int, key func(i int) *config.Key, records []state.Key, now time.Time) []StatusRow {
	byName := map[string]state.Key{}
	for _, r := range records {
		byName[r.Name] = r
	}
	var rows []StatusRow
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		k := key(i)
		seen[k.Name] = true
		st, ok := byName[k.Name]
		if !ok {
			st = state.Key{Name: k.Name}
		}
		row := statusRow(st)
		row.Provider, row.Managed, row.Paused = k.Provider, true, k.Paused || st.Paused != nil
		if st.Paused != nil {
			row.PausedBy, row.PauseReason = st.Paused.Actor, st.Paused.Reason
		}
		// The same decision the engine executes: a failure's backoff moves
		// the next attempt, a paused key has none.
		row.NextRotation = NextRotationOf(*k, st, now)
		rows = append(rows, row)
	}
	for _, r := range records {
		// A key that left the policy is unmanaged until `rotator retire`
		// revoked every provider key of it.
		if !seen[r.Name] && !(r.Retired != nil && r.Idle()) {
			row := statusRow(r)
			if r.Current != nil {
				row.Provider = r.Current.Provider
			}
			rows = append(rows, row)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Key < rows[j].Key })
	return rows
}

func statusRow(st state.Key) StatusRow {
	row := StatusRow{Key: st.Name, LastKeepAlive: st.LastKeepAliveAt, LastUsed: st.LastUsedAt,
		Failures: st.Failures, LastError: st.LastError}
	if st.Current != nil {
		row.CurrentKeyID, row.CreatedAt = st.Current.ID, st.Current.CreatedAt
	}
	if st.Rotation != nil {
		row.RotationInFlight = fmt.Sprintf("%s since %s", st.Rotation.Step, st.Rotation.StartedAt.UTC().Format(time.RFC3339))
	}
	for _, rt := range st.Retiring {
		row.PendingRevocations = append(row.PendingRevocations, PendingRevocation{KeyID: rt.ID, Deadline: rt.RevokeAfter,
			Attempts: rt.Attempts, LastError: rt.LastError})
	}
	return row
}

// WriteStatus prints rows as a table.
func WriteStatus(w io.Writer, rows []StatusRow, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tPROVIDER\tCURRENT KEY ID\tAGE\tNEXT ROTATION\tPENDING REVOCATIONS\tLAST KEEP-ALIVE\tLAST ERROR")
	for _, r := range rows {
		name := r.Key
		if !r.Managed {
			name += " (unmanaged)"
		}
		if r.Paused {
			name += " (paused)"
		}
		age, next := "-", "-"
		if !r.CreatedAt.IsZero() {
			age = human(now.Sub(r.CreatedAt))
		}
		switch {
		case r.RotationInFlight != "":
			next = "in flight: " + r.RotationInFlight
		case r.Managed && r.CurrentKeyID == "":
			next = "now (no key yet)"
		case !r.NextRotation.IsZero():
			next = r.NextRotation.UTC().Format(time.RFC3339)
		}
		var pending []string
		for _, p := range r.PendingRevocations {
			s := p.KeyID + " at " + p.Deadline.UTC().Format(time.RFC3339)
			if p.Attempts > 0 {
				s += fmt.Sprintf(" (%d failed attempts)", p.Attempts)
			}
			pending = append(pending, s)
		}
		pend := "-"
		if len(pending) > 0 {
			pend = strings.Join(pending, "; ")
		}
		ka := "-"
		if !r.LastKeepAlive.IsZero() {
			ka = human(now.Sub(r.LastKeepAlive)) + " ago"
		}
		lastErr := "-"
		if r.LastError != "" {
			lastErr = r.LastError
			if r.Failures > 0 {
				lastErr = fmt.Sprintf("(%d in a row) %s", r.Failures, lastErr)
			}
		}
		id := r.CurrentKeyID
		switch {
		case id == "" && r.Managed: // no provider key yet
			id = "never rotated"
		case id == "":
			id = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", name, r.Provider, printable(id), age, next, printable(pend), ka, printable(lastErr))
	}
	return tw.Flush()
}

func human(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return d.Truncate(time.Second).String()
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	default:
		return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
	}
}

// printable replaces control characters (a terminal escape in a provider's
// key id or message, a tab that would break the table) with '?'.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return '?'
		}
		return r
	}, s)
}
