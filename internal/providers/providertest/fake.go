// Package providertest holds test doubles for providers.Provider and the
// contract suite every provider passes.
package providertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
)

// Provider is a providers.Provider made of function fields. A nil field
// panics when called, so a test states exactly which calls it expects.
type Provider struct {
	TypeFunc           func() string
	ValidateParamsFunc func(params map[string]string) error
	// CredentialFieldsFunc answers CredentialFields; nil means none known.
	CredentialFieldsFunc func() []string
	CreateFunc           func(ctx context.Context, name string, params map[string]string) (providers.Key, error)
	GetFunc              func(ctx context.Context, id string) (providers.KeyInfo, error)
	ListFunc             func(ctx context.Context, prefix string) ([]providers.KeyInfo, error)
	RevokeFunc           func(ctx context.Context, id string) error
	TestFunc             func(ctx context.Context, id string, cred providers.Credential) (providers.KeyInfo, error)
	// VerifyFunc answers Verify; when nil, Verify is TestFunc, with a key
	// reported inactive counted as rejected (ReasonAuth), which is what the
	// engine made of Test before providers had Verify.
	VerifyFunc func(ctx context.Context, id string, cred providers.Credential) error
	// UsageResolutionFunc answers UsageResolution; nil: 0, the fake
	// records use to the nanosecond (Memory.Touch).
	UsageResolutionFunc func() time.Duration
}

var (
	_ providers.Provider      = (*Provider)(nil)
	_ providers.Verifier      = (*Provider)(nil)
	_ providers.UsageReporter = (*Provider)(nil)
)

func (p *Provider) Type() string {
	if p.TypeFunc == nil {
		return "fake"
	}
	return p.TypeFunc()
}
func (p *Provider) UsageResolution() time.Duration {
	if p.UsageResolutionFunc == nil {
		return 0
	}
	return p.UsageResolutionFunc()
}
func (p *Provider) CredentialFields() []string {
	if p.CredentialFieldsFunc == nil {
		return nil
	}
	return p.CredentialFieldsFunc()
}
func (p *Provider) ValidateParams(params map[string]string) error {
	if p.ValidateParamsFunc == nil {
		return nil
	}
	return p.ValidateParamsFunc(params)
}
func (p *Provider) Create(ctx context.Context, name string, params map[string]string) (providers.Key, error) {
	return p.CreateFunc(ctx, name, params)
}
func (p *Provider) Get(ctx context.Context, id string) (providers.KeyInfo, error) {
	return p.GetFunc(ctx, id)
}
func (p *Provider) List(ctx context.Context, prefix string) ([]providers.KeyInfo, error) {
	return p.ListFunc(ctx, prefix)
}
func (p *Provider) Revoke(ctx context.Context, id string) error { return p.RevokeFunc(ctx, id) }
func (p *Provider) Test(ctx context.Context, id string, cred providers.Credential) (providers.KeyInfo, error) {
	return p.TestFunc(ctx, id, cred)
}
func (p *Provider) Verify(ctx context.Context, id string, cred providers.Credential) error {
	if p.VerifyFunc != nil {
		return p.VerifyFunc(ctx, id, cred)
	}
	info, err := p.TestFunc(ctx, id, cred)
	if err == nil && !info.Active {
		err = &providers.Error{Op: "verify", Reason: providers.ReasonAuth, Message: "the provider reports the key inactive"}
	}
	return err
}

// Memory is an in-memory key store behind a Provider: keys are created with
// a random one-time secret, revoked for good, and tested by their secret.
// Tests replace single function fields of Memory.Provider to inject faults.
type Memory struct {
	Provider
	mu     sync.Mutex
	now    func() time.Time
	keys   map[string]*memKey
	order  []string
	nextID int
	calls  map[string]int
	issued []string
}

type memKey struct {
	info   providers.KeyInfo
	secret string
}

// NewMemory returns a working in-memory provider whose credential is
// {"api_key": ...}. now may be nil (time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	m := &Memory{now: now, keys: map[string]*memKey{}, calls: map[string]int{}}
	m.Provider = Provider{
		TypeFunc:             func() string { return "memory" },
		CredentialFieldsFunc: func() []string { return []string{"api_key"} },
		CreateFunc: func(ctx context.Context, name string, _ map[string]string) (providers.Key, error) {
			if err := ctx.Err(); err != nil {
				return providers.Key{}, &providers.Error{Op: "create", Reason: providers.ReasonTimeout, Err: err}
			}
			return m.Create(name), nil
		},
		GetFunc:    func(_ context.Context, id string) (providers.KeyInfo, error) { return m.Get(id) },
		ListFunc:   func(_ context.Context, prefix string) ([]providers.KeyInfo, error) { return m.List(prefix), nil },
		RevokeFunc: func(_ context.Context, id string) error { m.Revoke(id); return nil },
		TestFunc: func(_ context.Context, id string, cred providers.Credential) (providers.KeyInfo, error) {
			if !m.Valid(cred) {
				return providers.KeyInfo{}, &providers.Error{Op: "test", Reason: providers.ReasonAuth, Status: 401, Message: "invalid API key"}
			}
			return m.Touch(id)
		},
	}
	return m
}

func (m *Memory) count(op string) {
	m.calls[op]++
}

// Create makes a key directly (the CreateFunc behaviour).
func (m *Memory) Create(name string) providers.Key {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("create")
	m.nextID++
	id := strconv.Itoa(m.nextID)
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	secret := "sk_" + hex.EncodeToString(b)
	m.issued = append(m.issued, secret)
	k := &memKey{info: providers.KeyInfo{ID: id, Name: name, CreatedAt: m.now(), Active: true}, secret: secret}
	m.keys[id] = k
	m.order = append(m.order, id)
	return providers.Key{KeyInfo: k.info, Credential: providers.Credential{"api_key": secret}}
}

// Get returns a key's metadata.
func (m *Memory) Get(id string) (providers.KeyInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("get")
	k, ok := m.keys[id]
	if !ok {
		return providers.KeyInfo{}, &providers.Error{Op: "get", Reason: providers.ReasonNotFound, Status: 404}
	}
	return k.info, nil
}

// List returns the keys whose name starts with prefix, in creation order.
func (m *Memory) List(prefix string) []providers.KeyInfo {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("list")
	var out []providers.KeyInfo
	for _, id := range m.order {
		if k := m.keys[id]; strings.HasPrefix(k.info.Name, prefix) {
			out = append(out, k.info)
		}
	}
	return out
}

// Revoke deactivates a key; unknown or revoked keys are fine.
func (m *Memory) Revoke(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("revoke")
	if k, ok := m.keys[id]; ok {
		k.info.Active = false
	}
}

// Touch records a use of the key.
func (m *Memory) Touch(id string) (providers.KeyInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count("test")
	k, ok := m.keys[id]
	if !ok {
		return providers.KeyInfo{}, &providers.Error{Op: "test", Reason: providers.ReasonNotFound, Status: 404}
	}
	k.info.LastUsedAt = m.now()
	return k.info, nil
}

// Valid reports whether the credential is an active key's.
func (m *Memory) Valid(cred providers.Credential) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range m.keys {
		if k.secret == cred["api_key"] {
			return k.info.Active
		}
	}
	return false
}

// Active returns the ids of active keys, sorted.
func (m *Memory) Active() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for id, k := range m.keys {
		if k.info.Active {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// SetActive flips a key's active flag (to simulate idle revocation).
func (m *Memory) SetActive(id string, active bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if k, ok := m.keys[id]; ok {
		k.info.Active = active
	}
}

// Issued returns every secret ever issued, for leak checks.
func (m *Memory) Issued() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.issued...)
}

// Calls returns how often an operation was called.
func (m *Memory) Calls(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op]
}

// String describes the store for test failure messages (no secrets).
func (m *Memory) String() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var b strings.Builder
	for _, id := range m.order {
		k := m.keys[id]
		fmt.Fprintf(&b, "%s %s active=%v; ", id, k.info.Name, k.info.Active)
	}
	return b.String()
}
