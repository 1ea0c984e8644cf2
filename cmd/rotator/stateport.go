package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/state/pgstore"
)

// The export format: JSON lines, a header and then one line per key
// record and per audit event. Neither holds a secret: a record has key
// ids, names and times; the secrets live in the sinks only.
const (
	portFormat  = "rotator-state"
	portVersion = 1
	// maxPortLine bounds one line of an import (a record with its retiring
	// keys and history is a few KiB).
	maxPortLine = 4 << 20
)

// portLine is one line of an export.
type portLine struct {
	Kind       string       `json:"kind"` // header, key or event
	Format     string       `json:"format,omitempty"`
	Version    int          `json:"version,omitempty"`
	ExportedAt *time.Time   `json:"exported_at,omitempty"`
	Key        *state.Key   `json:"key,omitempty"`
	Event      *state.Event `json:"event,omitempty"`
}

// statePort is `rotator state export` and `rotator state import`.
func (c *cli) statePort(verb string, args []string) int {
	fs := flag.NewFlagSet("rotator state "+verb, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	cfgPath := fs.String("config", "", "policy file (YAML): its state: section names the store")
	file := fs.String("file", "-", "the JSON lines file (- is stdout for export, stdin for import)")
	fs.String("log-level", "warn", "accepted for symmetry with the other commands (nothing is logged)")
	fs.String("log-format", "", "accepted for symmetry with the other commands (nothing is logged)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fmt.Fprintf(c.stderr, "usage: rotator state %s --config FILE [--file PATH]\n", verb)
		return exitConfig
	}
	cfg, err := config.LoadFile(*cfgPath)
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %s: %v\n", *cfgPath, err)
		return exitConfig
	}
	ctx := c.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	if verb == "export" {
		err = c.stateExport(ctx, cfg, *file)
	} else {
		err = c.stateImport(ctx, cfg, *file)
	}
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: state %s: %v\n", verb, err)
		return exitFailed
	}
	return exitOK
}

// stateExport writes every key record and its audit trail. It opens the
// store read-only; a bbolt file a daemon holds cannot be opened (stop it,
// or export from the replicas' database, which needs no stop).
func (c *cli) stateExport(ctx context.Context, cfg *config.Config, file string) error {
	store, err := openBackend(ctx, cfg, true)
	if err != nil {
		return err
	}
	defer store.Close()
	out := c.stdout
	if file != "-" {
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	w := bufio.NewWriter(out)
	n, e, err := exportTo(w, store, c.clock.Now())
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if f, ok := out.(*os.File); ok && file != "-" {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	fmt.Fprintf(c.stderr, "rotator: exported %d key records and %d events\n", n, e)
	return nil
}

func exportTo(w io.Writer, store state.Backend, now time.Time) (keys, events int, err error) {
	enc := json.NewEncoder(w)
	now = now.UTC()
	if err := enc.Encode(portLine{Kind: "header", Format: portFormat, Version: portVersion, ExportedAt: &now}); err != nil {
		return 0, 0, err
	}
	records, err := store.All()
	if err != nil {
		return 0, 0, err
	}
	for i := range records {
		if err := enc.Encode(portLine{Kind: "key", Key: &records[i]}); err != nil {
			return 0, 0, err
		}
		evs, err := store.Events(records[i].Name, time.Time{})
		if err != nil {
			return 0, 0, fmt.Errorf("events of %s: %w", records[i].Name, err)
		}
		for j := range evs {
			if err := enc.Encode(portLine{Kind: "event", Event: &evs[j]}); err != nil {
				return 0, 0, err
			}
		}
		events += len(evs)
	}
	return len(records), events, nil
}

// stateImport writes an export into the configured store, which must hold
// no key record yet (an import never merges with a running history). Into
// postgres it takes the leadership lease first, and refuses while a
// replica leads: stop the daemons, import, start them.
func (c *cli) stateImport(ctx context.Context, cfg *config.Config, file string) error {
	in := io.Reader(os.Stdin)
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	store, err := openBackend(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer store.Close()
	if have, err := store.All(); err != nil {
		return err
	} else if len(have) > 0 {
		return fmt.Errorf("the target store already holds %d key records: import only into an empty store", len(have))
	}
	target := engineStore(store)
	if pg, ok := store.(*pgstore.Store); ok {
		l, err := newLease(pg, cfg, c.clock, zap.NewNop())
		if err != nil {
			return err
		}
		defer l.Close()
		if ok, err := l.Acquire(ctx); err != nil || !ok {
			return errors.Join(errLeaseHeld, err)
		}
		defer l.Release(context.WithoutCancel(ctx)) //nolint:errcheck
		if target, err = l.Fenced(ctx); err != nil {
			return err
		}
	}
	n, e, err := importFrom(in, target)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "rotator: imported %d key records and %d events\n", n, e)
	return nil
}

func importFrom(r io.Reader, store engineStore) (keys, events int, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxPortLine)
	line := 0
	for sc.Scan() {
		line++
		var l portLine
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return keys, events, fmt.Errorf("line %d: %w", line, err)
		}
		switch {
		case line == 1 && (l.Kind != "header" || l.Format != portFormat):
			return 0, 0, errors.New("line 1: not a rotator state export (want a header line with format rotator-state)")
		case line == 1 && l.Version != portVersion:
			return 0, 0, fmt.Errorf("line 1: export version %d, this rotator reads version %d", l.Version, portVersion)
		case line == 1:
		case l.Kind == "key" && l.Key != nil && l.Key.Name != "":
			if err := store.Put(*l.Key); err != nil {
				return keys, events, fmt.Errorf("line %d: key %s: %w", line, l.Key.Name, err)
			}
			keys++
		case l.Kind == "event" && l.Event != nil:
			if err := store.Append(*l.Event); err != nil {
				return keys, events, fmt.Errorf("line %d: event of %s: %w", line, l.Event.Key, err)
			}
			events++
		default:
			return keys, events, fmt.Errorf("line %d: want a key record with a name or an event (kind %q)", line, l.Kind)
		}
	}
	if err := sc.Err(); err != nil {
		return keys, events, fmt.Errorf("line %d: %w", line+1, err)
	}
	if line == 0 {
		return 0, 0, errors.New("the export is empty")
	}
	return keys, events, nil
}
