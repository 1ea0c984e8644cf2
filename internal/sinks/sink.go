// Package sinks defines the contract between the rotation engine and the
// stores that hand credentials to applications: files, Vault KV, AWS
// Secrets Manager, SSM Parameter Store.
//
// A Sink is one configured store (one Vault server with its auth, one
// output folder). A Target is one place in it that one managed key is
// written to (a KV path, a file), bound from the key's `sinks:` entry at
// configuration time. Each kind of sink lives in its own subpackage with its
// own Config and TargetConfig types, and is wired by internal/wire.
package sinks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
)

// Sink is a configured secret store.
type Sink interface {
	// Type names the kind of sink ("file", "vault", "aws-secretsmanager",
	// "aws-ssm"); it appears in logs.
	Type() string

	// Bind decodes a key's target section strictly (DecodeTarget: the
	// fields "sink" and "fields" are the engine's) and returns the handle
	// the engine writes through. It makes no network call; errors are
	// *config.FieldError values naming the field.
	Bind(target config.Section) (Target, error)
}

// DecodeTarget decodes a key's target section into tc strictly, skipping
// the fields that are the engine's ("sink" and "fields"), as every Bind
// must; an error is a *config.FieldError naming the field.
func DecodeTarget(sec config.Section, tc any) error {
	return sec.Decode(tc, "sink", "fields")
}

// Checker is implemented by sinks that can verify at start-up, before any
// rotation, that they are reachable and allowed to write every bound target
// (Vault: token lookup and sys/capabilities-self). The error names the
// target that fails.
type Checker interface {
	Check(ctx context.Context) error
}

// Closer is implemented by sinks that hold background resources (a Vault
// token renewer).
type Closer interface {
	Close() error
}

// Target is one place a managed key's credential is written to.
//
// Implementations must be safe for concurrent use, must honour ctx promptly,
// and must never put a secret value into an error or a log line.
type Target interface {
	// String describes the location without any secret, for logs and the
	// dry-run plan: "vault secret/mail/smtpd-send", "file /out/x.env".
	String() string

	// Write stores the secret so that consumers read it. It is idempotent:
	// writing the same Write twice (same RotationID) leaves the store as one
	// write would, and a retry after an ambiguous failure is safe. It returns
	// a version identifier of what was written ("" when the store has no
	// versions). Stores that stage writes (Secrets Manager's AWSPENDING)
	// implement Promoter; for them consumers see the new value only after
	// Promote.
	Write(ctx context.Context, w Write) (version string, err error)

	// Read returns the secret consumers read now. A target that holds
	// nothing yet returns an error for which errors.Is(err, ErrNotFound).
	Read(ctx context.Context) (Secret, error)
}

// Promoter is implemented by targets whose Write stages the new value and
// a second call makes it current (Secrets Manager: UpdateSecretVersionStage
// moves AWSCURRENT to the version written with ClientRequestToken =
// RotationID). Promote is idempotent.
type Promoter interface {
	Promote(ctx context.Context, w Write) error
}

// PendingReader is implemented by staging targets: it reads the value
// written (and maybe not yet promoted) by the rotation with this id, so
// that a rotation interrupted before Promote can be resumed.
type PendingReader interface {
	ReadPending(ctx context.Context, rotationID string) (Secret, error)
}

// HistoryReader is implemented by targets whose store keeps earlier
// values after a write (Vault KV v2 versions, Secrets Manager's
// AWSPREVIOUS). Previous returns up to n earlier values, newest first,
// skipping deleted ones; none is not an error. The engine uses it to keep a
// key in its grace period in use after the target was overwritten.
type HistoryReader interface {
	Previous(ctx context.Context, n int) ([]Secret, error)
}

// Write is one write of a rotated credential.
type Write struct {
	// RotationID identifies the rotation; it is the same on every retry of
	// the same rotation (Secrets Manager's ClientRequestToken: a UUID).
	RotationID string
	// KeyID and KeyName identify the provider key the credential belongs to
	// (for Vault custom_metadata, AWS tags and read-back checks).
	KeyID   string
	KeyName string
	// RotatedAt is when the rotation created the key.
	RotatedAt time.Time
	// Data is the flat map to store, already renamed per the target's
	// `fields`.
	Data Secret
}

// Secret is the flat map of fields a sink stores: the provider's credential
// fields plus key_id, key_name and created_at. Every value is treated as
// secret: the type prints as "<redacted>".
type Secret map[string]string

// String hides the values.
func (Secret) String() string { return "<redacted>" }

// GoString hides the values from %#v.
func (Secret) GoString() string { return "<redacted>" }

// ErrNotFound is returned by Read when the target holds nothing yet.
var ErrNotFound = errors.New("secret not found")

// ErrNotOwned is wrapped by the error Write returns when the target
// already holds a secret that carries no rotator ownership marker (Vault
// KV v2 custom_metadata managed_by=rotator, the managed-by=rotator tag of
// a Secrets Manager secret or an SSM parameter, the marker line or field
// of a file or a KV v1 secret) and the target does not set `adopt: true`.
// Nothing is written. Every write rotator makes sets the marker, so a
// target it wrote once stays its own.
var ErrNotOwned = errors.New("not written by rotator")

// NotOwned is the error for a target whose secret rotator did not write:
// what names the secret ("vault secret/mail/x"), marker the ownership
// marker it lacks, yamlPath the target's YAML path ("keys[0].sinks[1]").
// It says how to adopt the secret.
func NotOwned(what, marker, yamlPath string) error {
	return fmt.Errorf("%s exists and carries no %s: %w, so it is not overwritten; to let rotator take it over (and mark it as its own), set adopt: true on %s",
		what, marker, ErrNotOwned, yamlPath)
}

// ErrConflict is returned by Write when the store changed under the write
// (Vault KV v2 check-and-set failed: someone else wrote the path). The
// engine reports it and retries later; it never overwrites blindly.
var ErrConflict = errors.New("concurrent modification")
