package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/rotate"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/state"
	"github.com/rotator-dev/rotator/internal/wire"
)

// stateRebuild is `rotator state rebuild --config FILE`: it sets the state
// file aside (renamed, never deleted) and writes a new one in which each
// configured key's current key is the one its sink targets hold (read
// back, key_id, key_name and created_at). Rotations in flight, superseded
// keys waiting for revocation and failure counts are not recovered: the
// next orphan scan (prune_orphans) or the operator handles keys left at
// the provider. Exit 0 when every key was adopted cleanly or holds nothing
// yet, 1 when a key needs attention (a target unreadable, targets holding
// different keys), 2 for usage or configuration errors.
func (c *cli) stateRebuild(args []string) int {
	fs := flag.NewFlagSet("rotator state rebuild", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	cfgPath := fs.String("config", "", "policy file (YAML)")
	timeout := fs.Duration("timeout", 2*time.Minute, "bound on reading every target")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	logFormat := fs.String("log-format", "", "json or console (default: console on a terminal, else json)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(c.stderr, "usage: rotator state rebuild --config FILE [--timeout DUR]")
		return exitConfig
	}
	logger, err := newLogger(*logLevel, *logFormat, c.stderr, false)
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %v\n", err)
		return exitConfig
	}
	cfg, err := config.LoadFile(*cfgPath)
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %s: %v\n", *cfgPath, err)
		return exitConfig
	}
	built, err := wire.Build(cfg, wire.Deps{Logger: logger, Clock: c.clock, UserAgent: "rotator/" + buildVersion()})
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %s: %v\n", *cfgPath, err)
		return exitConfig
	}
	defer closeSinks(built, logger)
	aside, err := setStateAside(cfg.StatePath, c.clock.Now())
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %v\n", err)
		return exitFailed
	}
	if aside != "" {
		fmt.Fprintf(c.stdout, "the old state file is now %s\n", aside)
	}
	store, err := state.Open(cfg.StatePath, state.Options{})
	if err != nil {
		fmt.Fprintf(c.stderr, "rotator: %v\n", err)
		return exitFailed
	}
	defer store.Close()
	ctx, cancel := context.WithTimeout(c.context(), *timeout)
	defer cancel()
	code := exitOK
	for _, m := range built.Keys {
		rec, note, err := adoptFromSinks(ctx, m)
		if err == nil && rec.Current != nil {
			err = store.Put(rec)
		}
		switch {
		case err != nil:
			code = exitFailed
			note = "FAILED: " + err.Error()
		case strings.HasPrefix(note, "CHECK"):
			code = exitFailed
		}
		fmt.Fprintf(c.stdout, "%-24s %s\n", m.Policy.Name, note)
	}
	return code
}

func (c *cli) context() context.Context {
	if c.ctx != nil {
		return c.ctx
	}
	return context.Background()
}

// setStateAside renames the state file to path.corrupt-<UTC time>; it
// refuses while a daemon holds the file. No file: nothing to do.
func setStateAside(path string, now time.Time) (string, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	st, err := state.Open(path, state.Options{ReadOnly: true, LockTimeout: 200 * time.Millisecond})
	if errors.Is(err, state.ErrLocked) {
		return "", fmt.Errorf("%w: stop the daemon before rebuilding its state", err)
	}
	if err == nil {
		st.Close()
	}
	aside := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	if err := os.Rename(path, aside); err != nil {
		return "", fmt.Errorf("set the state file aside: %w", err)
	}
	return aside, nil
}

// held is one target's key, as read back.
type held struct {
	target, id, name string
	created          time.Time
}

// adoptFromSinks reads every target of a key and returns the record that
// makes the key its targets hold current, and a line saying what it found.
func adoptFromSinks(ctx context.Context, m *rotate.Managed) (state.Key, string, error) {
	rec := state.Key{Name: m.Policy.Name}
	var hs []held
	empty := 0
	for _, t := range m.Targets {
		sec, err := t.Target.Read(ctx)
		if errors.Is(err, sinks.ErrNotFound) {
			empty++
			continue
		}
		if err != nil {
			return rec, "", fmt.Errorf("read %s: %w", t.Target, err)
		}
		field := func(name string) string {
			if to, ok := t.Fields[name]; ok {
				name = to
			}
			return sec[name]
		}
		h := held{target: t.Target.String(), id: field(rotate.FieldKeyID), name: field(rotate.FieldKeyName)}
		if h.id == "" {
			return rec, "", fmt.Errorf("%s holds no %s: not written by rotator", t.Target, rotate.FieldKeyID)
		}
		h.created, _ = time.Parse(time.RFC3339, field(rotate.FieldCreatedAt))
		hs = append(hs, h)
	}
	if len(hs) == 0 {
		return rec, "no target holds a key: the next run rotates it", nil
	}
	// The newest key wins: targets that differ are mid-rotation.
	sort.SliceStable(hs, func(i, j int) bool { return hs[i].created.After(hs[j].created) })
	cur := hs[0]
	rec.Current = &state.ProviderKey{Provider: m.Policy.Provider, ID: cur.id, Name: cur.name, CreatedAt: cur.created}
	rec.LastSuccessAt = cur.created
	var others []string
	for _, h := range hs[1:] {
		if h.id != cur.id {
			others = append(others, fmt.Sprintf("%s holds %s", h.target, h.id))
		}
	}
	note := fmt.Sprintf("adopted %s (created %s) from %d of %d targets", cur.id, cur.created.Format(time.RFC3339), len(hs), len(m.Targets))
	switch {
	case len(others) > 0:
		return rec, fmt.Sprintf("CHECK: %s, but %s: run `rotator --run-now --key %s` to write one key everywhere",
			note, strings.Join(others, ", "), m.Policy.Name), nil
	case empty > 0:
		return rec, fmt.Sprintf("CHECK: %s; %d hold nothing: run `rotator --run-now --key %s` to write them", note, empty, m.Policy.Name), nil
	}
	return rec, note, nil
}
