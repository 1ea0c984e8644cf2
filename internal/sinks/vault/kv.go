package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/vault/api"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/sinks"
)

// Target is one KV path of a Vault sink.
type Target struct {
	sink  *Sink
	path  string // relative to the mount
	adopt bool
	// yamlPath is the target's YAML path ("keys[0].sinks[1]"), for the
	// error that says how to adopt a secret rotator did not write.
	yamlPath string
}

// String implements sinks.Target: "vault secret/mail/smtpd-send", with the
// namespace first when there is one.
func (t *Target) String() string {
	p := t.sink.cfg.Mount + "/" + t.path
	if ns := t.sink.cfg.Namespace; ns != "" {
		p = ns + "/" + p
	}
	return "vault " + p
}

// Write implements sinks.Target; see the package doc for KV v1 and v2.
func (t *Target) Write(ctx context.Context, w sinks.Write) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("write %s: %w", t, err)
	}
	if len(w.Data) == 0 {
		return "", fmt.Errorf("write %s: no fields to write", t)
	}
	for k, v := range w.Data {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return "", fmt.Errorf("write %s: field %q: not valid UTF-8, which Vault's JSON cannot hold", t, strings.ToValidUTF8(k, "?"))
		}
	}
	var version string
	err := t.sink.do(ctx, func(ctx context.Context) error {
		var err error
		if t.sink.cfg.KVVersion == 1 {
			version, err = t.writeV1(ctx, w)
		} else {
			version, err = t.writeV2(ctx, w)
		}
		return err
	})
	if err != nil {
		return "", fmt.Errorf("write %s: %w", t, err)
	}
	return version, nil
}

// Read implements sinks.Target.
func (t *Target) Read(ctx context.Context) (sinks.Secret, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", t, err)
	}
	var out sinks.Secret
	err := t.sink.do(ctx, func(ctx context.Context) error {
		cur, err := t.current(ctx)
		if err != nil {
			return err
		}
		if !cur.live {
			return sinks.ErrNotFound
		}
		out = cur.data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t, err)
	}
	return out, nil
}

// Previous implements sinks.HistoryReader: the versions before the
// current one, newest first, up to n (KV v2 only; KV v1 keeps no history).
// Deleted or destroyed versions are skipped.
func (t *Target) Previous(ctx context.Context, n int) ([]sinks.Secret, error) {
	if t.sink.cfg.KVVersion == 1 {
		return nil, nil
	}
	var out []sinks.Secret
	err := t.sink.do(ctx, func(ctx context.Context) error {
		out = out[:0]
		cur, err := t.current(ctx)
		if err != nil {
			return err
		}
		for v := cur.version - 1; v >= 1 && len(out) < n; v-- {
			st, err := t.read(ctx, url.Values{"version": {strconv.FormatInt(v, 10)}})
			if err != nil {
				return err
			}
			if st.live {
				out = append(out, st.data)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", t, err)
	}
	return out, nil
}

func (t *Target) writeV1(ctx context.Context, w sinks.Write) (string, error) {
	if _, ok := w.Data[markerField]; ok {
		return "", fmt.Errorf("field %q is rotator's ownership marker on KV version 1: rename the field with the target's fields", markerField)
	}
	cur, err := t.current(ctx)
	if err != nil {
		return "", err
	}
	same := cur.live && maps.Equal(cur.data, w.Data)
	if same && cur.owned {
		t.sink.log.Debug("vault secret unchanged, write skipped", zap.String("path", t.String()), zap.String("key_id", w.KeyID))
		return "", nil
	}
	if cur.live && !cur.owned && !same {
		if err := t.mayAdopt(markerField + "=" + markerValue + " field"); err != nil {
			return "", err
		}
	}
	p := t.sink.dataPath(t.path)
	data := toMap(w.Data)
	data[markerField] = markerValue
	if _, err := t.sink.client.Logical().WriteWithContext(ctx, p, data); err != nil {
		return "", describe(err)
	}
	back, err := t.current(ctx)
	if err != nil {
		return "", fmt.Errorf("read back: %w", err)
	}
	if !back.live || !back.owned || !maps.Equal(back.data, w.Data) {
		return "", errors.New("read back: the stored data differs from what was written")
	}
	// The engine logs the write ("sink written"): one line per step.
	return "", nil
}

func (t *Target) writeV2(ctx context.Context, w sinks.Write) (string, error) {
	cur, err := t.current(ctx)
	if err != nil {
		return "", err
	}
	same := cur.live && maps.Equal(cur.data, w.Data)
	// Identical data is this write's own earlier attempt, stopped before
	// its custom_metadata was recorded: it is rotator's.
	if cur.version > 0 && !cur.owned && !same {
		if err := t.mayAdopt("custom_metadata managed_by=" + markerValue); err != nil {
			return "", err
		}
		// Marked before the data is written, so that a write stopped
		// half-way leaves the secret rotator's.
		if err := t.patchMetadata(ctx, w); err != nil {
			return "", err
		}
	}
	if same {
		t.sink.log.Debug("vault secret unchanged, write skipped", zap.String("path", t.String()),
			zap.String("key_id", w.KeyID), zap.Int64("version", cur.version))
		if err := t.patchMetadata(ctx, w); err != nil {
			return "", err
		}
		return strconv.FormatInt(cur.version, 10), nil
	}

	version, err := t.casWrite(ctx, w.Data, cur.version)
	if isCASMismatch(err) {
		now, rerr := t.current(ctx)
		if rerr != nil {
			return "", fmt.Errorf("%w: the secret changed since version %d was read (%v)", sinks.ErrConflict, cur.version, rerr)
		}
		if !now.live || !maps.Equal(now.data, w.Data) {
			return "", fmt.Errorf("%w: the secret changed from version %d to %d since it was read; not overwritten", sinks.ErrConflict, cur.version, now.version)
		}
		// Another write of this same data won the race (a retry of ours).
		version, err = now.version, nil
	}
	if err != nil {
		return "", err
	}
	if err := t.patchMetadata(ctx, w); err != nil {
		return "", err
	}
	back, err := t.readVersion(ctx, version)
	if err != nil {
		return "", fmt.Errorf("read back version %d: %w", version, err)
	}
	if !maps.Equal(back.data, w.Data) {
		return "", fmt.Errorf("read back version %d: the stored data differs from what was written", version)
	}
	// The engine logs the write ("sink written", with the version).
	return strconv.FormatInt(version, 10), nil
}

// mayAdopt is the ownership check for a secret that exists without
// rotator's marker: refused (sinks.ErrNotOwned) unless the target adopts.
func (t *Target) mayAdopt(marker string) error {
	if !t.adopt {
		return sinks.NotOwned("the secret", marker, t.yamlPath)
	}
	t.sink.log.Warn("adopting a vault secret rotator did not write", zap.String("path", t.String()))
	return nil
}

// casWrite writes data as a new version if the current version is still
// cas (0: the secret does not exist yet).
func (t *Target) casWrite(ctx context.Context, data sinks.Secret, cas int64) (int64, error) {
	resp, err := t.sink.client.Logical().WriteWithContext(ctx, t.sink.dataPath(t.path), map[string]any{
		"options": map[string]any{"cas": cas},
		"data":    toMap(data),
	})
	if err != nil {
		return 0, describe(err)
	}
	if resp == nil {
		return 0, errors.New("write returned no version")
	}
	v, ok := number(resp.Data["version"])
	if !ok {
		return 0, errors.New("write returned no version")
	}
	return v, nil
}

// patchMetadata records who rotated the secret, merging into any
// custom_metadata an operator set.
func (t *Target) patchMetadata(ctx context.Context, w sinks.Write) error {
	at := w.RotatedAt
	if at.IsZero() {
		at = t.sink.clock.Now()
	}
	meta := map[string]any{"managed_by": markerValue, "rotated_at": at.UTC().Format(time.RFC3339)}
	// Vault refuses empty custom_metadata values: leave unknown ones out.
	if w.KeyID != "" {
		meta["rotator_key_id"] = w.KeyID
	}
	if w.KeyName != "" {
		meta["rotator_key_name"] = w.KeyName
	}
	_, err := t.sink.client.Logical().JSONMergePatch(ctx, t.sink.metadataPath(t.path), map[string]any{"custom_metadata": meta})
	if err != nil {
		return fmt.Errorf("record custom_metadata: %w", describe(err))
	}
	return nil
}

// kvState is what a read found at the path.
type kvState struct {
	data    sinks.Secret
	version int64 // KV v2: the current version, even when deleted; 0 if none
	live    bool  // there is data that consumers read
	owned   bool  // rotator's marker is there (see markerField)
}

// Ownership marker: KV v2 keeps custom_metadata managed_by=rotator on the
// secret's metadata; KV v1, which has no metadata, holds the field
// _managed_by=rotator in the data, which Read leaves out.
const (
	markerField = "_managed_by"
	markerValue = "rotator"
)

func (t *Target) current(ctx context.Context) (kvState, error) {
	return t.read(ctx, nil)
}

func (t *Target) readVersion(ctx context.Context, v int64) (kvState, error) {
	st, err := t.read(ctx, url.Values{"version": {strconv.FormatInt(v, 10)}})
	if err == nil && !st.live {
		err = fmt.Errorf("version %d is gone", v)
	}
	return st, err
}

func (t *Target) read(ctx context.Context, params url.Values) (kvState, error) {
	sec, err := t.sink.client.Logical().ReadWithDataWithContext(ctx, t.sink.dataPath(t.path), params)
	if err != nil {
		return kvState{}, describe(err)
	}
	if sec == nil || sec.Data == nil {
		return kvState{}, nil
	}
	if t.sink.cfg.KVVersion == 1 {
		owned := sec.Data[markerField] == markerValue
		delete(sec.Data, markerField)
		data, err := fromMap(sec.Data)
		return kvState{data: data, live: err == nil, owned: owned}, err
	}
	return parseV2(sec)
}

// parseV2 reads KV v2's {"data": {...}, "metadata": {"version": N,
// "deletion_time": "", "destroyed": false}}.
func parseV2(sec *api.Secret) (kvState, error) {
	var st kvState
	meta, _ := sec.Data["metadata"].(map[string]any)
	if meta == nil {
		return st, errors.New("the response has no metadata: is the mount KV version 2?")
	}
	st.version, _ = number(meta["version"])
	custom, _ := meta["custom_metadata"].(map[string]any)
	st.owned = custom["managed_by"] == markerValue
	deleted, _ := meta["deletion_time"].(string)
	destroyed, _ := meta["destroyed"].(bool)
	raw, _ := sec.Data["data"].(map[string]any)
	if raw == nil || deleted != "" || destroyed {
		return st, nil
	}
	data, err := fromMap(raw)
	if err != nil {
		return st, err
	}
	st.data, st.live = data, true
	return st, nil
}

func number(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	case float64:
		return int64(n), true
	case int64:
		return n, true
	case int:
		return int64(n), true
	}
	return 0, false
}

func toMap(s sinks.Secret) map[string]any {
	m := make(map[string]any, len(s))
	for k, v := range s {
		m[k] = v
	}
	return m
}

// fromMap converts a secret's data; a field that is not a string is an
// error naming the field, never its value.
func fromMap(m map[string]any) (sinks.Secret, error) {
	out := make(sinks.Secret, len(m))
	for k, v := range m {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("field %q is not a string", k)
		}
		out[k] = s
	}
	return out, nil
}
