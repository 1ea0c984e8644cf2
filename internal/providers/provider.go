// Package providers defines the contract between the rotation engine and the
// services that issue API keys (smtpd.dev, Emailit, ...).
//
// Each provider lives in its own subpackage with its own Config type, and is
// wired explicitly by internal/wire. The engine never imports a provider
// package directly.
package providers

import (
	"context"
	"time"
)

// Provider issues, lists, tests and revokes API keys at one account of one
// service. Implementations must be safe for concurrent use: the engine calls
// them from several goroutines, and all keys of one provider share its rate
// limit.
//
// No method may put credential material (a key's secret, the management
// password or token) into an error or a log line.
type Provider interface {
	// Type names the kind of provider ("smtpd", "emailit"); it is a metric
	// label and appears in logs.
	Type() string

	// ValidateParams checks a key's params (the YAML `params` map) at
	// configuration time, without any network call. The error names the
	// offending param (for example `role: "admin" is not one of iac,
	// standard, read_only, send_only`).
	ValidateParams(params map[string]string) error

	// CredentialFields names the fields of the credential Create returns
	// ({"key", "secret"} for smtpd.dev), which sinks receive and a key's
	// targets may rename.
	CredentialFields() []string

	// Create makes a new key called name. It is not idempotent: if it returns
	// an error the key may or may not exist at the provider (a dropped
	// connection after the request was sent); the engine then looks for it
	// with List by the same name. The returned Key carries the one-time
	// credential, which the engine keeps in memory only.
	Create(ctx context.Context, name string, params map[string]string) (Key, error)

	// Get returns the key's metadata. A key that does not exist returns an
	// error for which IsNotFound is true.
	Get(ctx context.Context, id string) (KeyInfo, error)

	// List returns the metadata of every key whose name starts with prefix
	// (all keys when prefix is empty), following pagination to the end.
	List(ctx context.Context, prefix string) ([]KeyInfo, error)

	// Revoke disables the key for good. A key that is already gone or
	// already revoked counts as revoked: Revoke returns nil.
	Revoke(ctx context.Context, id string) error

	// Test uses the credential itself against the provider (so that the
	// provider records activity on it) and then returns the key's metadata as
	// the provider now reports it. It serves both to verify a new key before
	// it is promoted and to keep live keys from being revoked for
	// inactivity (providers that implement Verifier verify new keys with
	// Verify instead). A credential that the provider rejects returns an
	// error with Reason ReasonAuth.
	Test(ctx context.Context, id string, cred Credential) (KeyInfo, error)
}

// Verifier is implemented by providers that can prove a credential cheaper
// than Test. The engine verifies a key it has just created with Verify
// when the provider has it, and with Test otherwise; keep-alive always uses
// Test.
type Verifier interface {
	// Verify proves, with as few round trips as the provider allows (one),
	// that the provider accepts cred, the credential of key id, right now.
	// A credential the provider rejects (wrong secret, revoked or inactive
	// key) returns an error with Reason ReasonAuth; other failures keep
	// their usual reasons (a 429 or 5xx is retryable). The error carries no
	// credential material, nor any token obtained with cred. Verify need
	// not record activity on the key, nor read its metadata: it is meant
	// for a key created a moment ago.
	Verify(ctx context.Context, id string, cred Credential) error
}

// IdleRevoker is implemented by providers that revoke keys left unused for
// a while (smtpd.dev: 90 days). The engine exports the resulting deadline
// as a metric so that operators are alerted well before it.
type IdleRevoker interface {
	IdleRevocationAfter() time.Duration
}

// UsageReporter is implemented by providers whose key metadata says when
// a key was last used (KeyInfo.LastUsedAt), which revoke_when: unused
// needs. UsageResolution is how coarse that answer is: a use is reported
// at most this late or this rounded, so a `quiet` shorter than it is a
// configuration error.
type UsageReporter interface {
	UsageResolution() time.Duration
}

// Credential is the set of credential fields a key is used with, for
// example {"key": ..., "secret": ...} for smtpd.dev or {"api_key": ...} for
// Emailit. Every value is secret: the type prints as "<redacted>".
type Credential map[string]string

// String hides the values.
func (Credential) String() string { return "<redacted>" }

// GoString hides the values from %#v.
func (Credential) GoString() string { return "<redacted>" }

// Key is a key just created: its metadata and its one-time credential.
type Key struct {
	KeyInfo
	Credential Credential
}

// KeyInfo is what a provider tells about a key, never its secret.
type KeyInfo struct {
	// ID addresses the key at the provider (smtpd: a UUID; Emailit: a number
	// or a prefixed string, kept as a string).
	ID   string
	Name string
	// CreatedAt is zero when the provider does not say.
	CreatedAt time.Time
	// LastUsedAt is zero when the key was never used or the provider does
	// not say.
	LastUsedAt time.Time
	// Active is false when the provider reports the key revoked or
	// disabled (smtpd: is_active false).
	Active bool
}
