package vault

import (
	"context"
	"errors"
	"fmt"
	"maps"
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
			st, err := v2State(t.sink.kv2().GetVersion(ctx, t.path, v))
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
	data := toMap(w.Data)
	data[markerField] = markerValue
	if err := t.sink.client.KVv1(t.sink.cfg.Mount).Put(ctx, t.path, data); err != nil {
		return "", describe(kvErr(err))
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
			zap.String("key_id", w.KeyID), zap.Int("version", cur.version))
		if err := t.patchMetadata(ctx, w); err != nil {
			return "", err
		}
		return strconv.Itoa(cur.version), nil
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
	back, err := v2State(t.sink.kv2().GetVersion(ctx, t.path, version))
	if err == nil && !back.live {
		err = fmt.Errorf("version %d is gone", version)
	}
	if err != nil {
		return "", fmt.Errorf("read back version %d: %w", version, err)
	}
	if !maps.Equal(back.data, w.Data) {
		return "", fmt.Errorf("read back version %d: the stored data differs from what was written", version)
	}
	// The engine logs the write ("sink written", with the version).
	return strconv.Itoa(version), nil
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
// cas (0: the secret does not exist yet). Vault's refusal stays an
// *api.ResponseError in the chain, for isCASMismatch.
func (t *Target) casWrite(ctx context.Context, data sinks.Secret, cas int) (int, error) {
	sec, err := t.sink.kv2().Put(ctx, t.path, toMap(data), api.WithCheckAndSet(cas))
	if err != nil {
		return 0, describe(kvErr(err))
	}
	if sec.VersionMetadata == nil || sec.VersionMetadata.Version == 0 {
		return 0, errors.New("write returned no version")
	}
	return sec.VersionMetadata.Version, nil
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
	err := t.sink.kv2().PatchMetadata(ctx, t.path, api.KVMetadataPatchInput{CustomMetadata: meta})
	if err != nil {
		return fmt.Errorf("record custom_metadata: %w", describe(kvErr(err)))
	}
	return nil
}

// kvState is what a read found at the path.
type kvState struct {
	data    sinks.Secret
	version int  // KV v2: the current version, even when deleted; 0 if none
	live    bool // there is data that consumers read
	owned   bool // rotator's marker is there (see markerField)
}

// Ownership marker: KV v2 keeps custom_metadata managed_by=rotator on the
// secret's metadata; KV v1, which has no metadata, holds the field
// _managed_by=rotator in the data, which Read leaves out.
const (
	markerField = "_managed_by"
	markerValue = "rotator"
)

// current reads the latest version (KV v2) or the secret (KV v1).
func (t *Target) current(ctx context.Context) (kvState, error) {
	if t.sink.cfg.KVVersion == 2 {
		sec, err := t.sink.kv2().Get(ctx, t.path)
		return v2State(sec, kvErr(err))
	}
	sec, err := t.sink.client.KVv1(t.sink.cfg.Mount).Get(ctx, t.path)
	err = kvErr(err)
	if errors.Is(err, api.ErrSecretNotFound) || err == nil && sec.Data == nil {
		return kvState{}, nil
	}
	if err != nil {
		return kvState{}, describe(err)
	}
	owned := sec.Data[markerField] == markerValue
	delete(sec.Data, markerField)
	data, err := fromMap(sec.Data)
	return kvState{data: data, live: err == nil, owned: owned}, err
}

// v2State is what KVv2.Get or GetVersion returned: a deleted or destroyed
// version comes with its metadata and nil Data. A deletion_time alone does
// not make a version deleted: with delete_version_after every version has
// one in the future, and Vault serves the version until then.
func v2State(sec *api.KVSecret, err error) (kvState, error) {
	if errors.Is(err, api.ErrSecretNotFound) || err == nil && sec.VersionMetadata == nil {
		return kvState{}, nil
	}
	if err != nil {
		return kvState{}, describe(err)
	}
	m := sec.VersionMetadata
	if m.Version == 0 {
		return kvState{}, errors.New("the response has no version: is the mount KV version 2?")
	}
	st := kvState{version: m.Version, owned: sec.CustomMetadata["managed_by"] == markerValue}
	if sec.Data == nil || m.Destroyed {
		return st, nil
	}
	st.data, err = fromMap(sec.Data)
	st.live = err == nil
	return st, err
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

// kvErr undoes the one wrap with which the api's KV helpers, all but
// KVv2.GetVersion, prefix their path to the client's error: the sink's
// errors name the target already, and said no more before the helpers.
func kvErr(err error) error {
	if u := errors.Unwrap(err); u != nil {
		return u
	}
	return err
}

// kv2 is the api's KV v2 helper for the mount (the namespace is the client's).
func (s *Sink) kv2() *api.KVv2 { return s.client.KVv2(s.cfg.Mount) }
