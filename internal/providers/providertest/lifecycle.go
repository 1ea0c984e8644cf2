package providertest

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/providers"
)

// lifecycle creates a key, reads, lists and tests it, and revokes it.
func (c *contract) lifecycle(t *testing.T) {
	p := c.h.NewProvider(t)
	name := uniqueName("contract-life-")
	key := c.createChecked(t, p, name)
	other := c.checkGetAndList(t, p, key, name)
	c.checkTest(t, p, key)
	c.checkRevoke(t, p, key)
	if err := p.Revoke(c.ctx, other.ID); err != nil {
		t.Fatalf("p.Revoke(ctx, other.ID): %v", err)
	}
}

// createChecked creates the key name and checks what Create returns: an
// active key with exactly the provider's credential fields, which the
// server accepts and which prints redacted.
func (c *contract) createChecked(t *testing.T, p providers.Provider, name string) providers.Key {
	key, err := p.Create(c.ctx, name, c.h.Params)
	if err != nil {
		t.Fatalf("p.Create: %v", err)
	}
	if key.ID == "" {
		t.Fatalf("key.ID = %q, want non-empty", key.ID)
	}
	if key.Name != name {
		t.Fatalf("key.Name = %q, want %q", key.Name, name)
	}
	if !key.Active {
		t.Fatalf("key.Active: got false, want true")
	}
	if got := p.CredentialFields(); len(got) == 0 {
		t.Fatalf("p.CredentialFields() = %+v, want non-empty", got)
	}
	if want := len(p.CredentialFields()); len(key.Credential) != want {
		t.Fatalf("the credential has exactly CredentialFields: len(key.Credential) = %d, want %d: %+v", len(key.Credential), want, key.Credential)
	}
	for _, f := range p.CredentialFields() {
		if key.Credential[f] == "" {
			t.Fatalf("credential field %q: got %q, want non-empty", f, key.Credential[f])
		}
	}
	if !c.h.Valid(key.Credential) {
		t.Fatalf("a new key's credential is accepted: got false, want true")
	}
	if got, want := fmt.Sprint(key.Credential), firstValue(key.Credential); strings.Contains(got, want) {
		t.Fatalf("Credential prints redacted: got %q, want it not to contain %q", got, want)
	}
	return key
}

// checkGetAndList checks Get of key, creates another key and checks that
// List filters by name prefix; it returns the other key.
func (c *contract) checkGetAndList(t *testing.T, p providers.Provider, key providers.Key, name string) providers.Key {
	ctx := c.ctx
	got, err := p.Get(ctx, key.ID)
	if err != nil {
		t.Fatalf("p.Get: %v", err)
	}
	if got.ID != key.ID {
		t.Fatalf("got.ID = %q, want %q", got.ID, key.ID)
	}
	if got.Name != name {
		t.Fatalf("got.Name = %q, want %q", got.Name, name)
	}
	if !got.Active {
		t.Fatalf("got.Active: got false, want true")
	}

	other, err := p.Create(ctx, uniqueName("contract-other-"), c.h.Params)
	if err != nil {
		t.Fatalf("p.Create: %v", err)
	}
	list, err := p.List(ctx, "contract-life-")
	if err != nil {
		t.Fatalf("p.List: %v", err)
	}
	if got, want := ids(list), []string{key.ID}; !reflect.DeepEqual(want, got) {
		t.Fatalf("List filters by name prefix: got %+v, want %+v", got, want)
	}
	all, err := p.List(ctx, "")
	if err != nil {
		t.Fatalf("p.List: %v", err)
	}
	for _, id := range []string{key.ID, other.ID} {
		if !slices.Contains(ids(all), id) {
			t.Fatalf("List(\"\") = %q, want it to include %q", ids(all), id)
		}
	}
	return other
}

// checkTest checks that Test accepts key's credential and refuses a wrong
// one with ReasonAuth.
func (c *contract) checkTest(t *testing.T, p providers.Provider, key providers.Key) {
	info, err := p.Test(c.ctx, key.ID, key.Credential)
	if err != nil {
		t.Fatalf("p.Test: %v", err)
	}
	if info.ID != key.ID {
		t.Fatalf("info.ID = %q, want %q", info.ID, key.ID)
	}
	if !info.Active {
		t.Fatalf("a tested key is active: got false, want true")
	}

	bad := providers.Credential{}
	for k, v := range key.Credential {
		bad[k] = v + "x"
	}
	_, err = p.Test(c.ctx, key.ID, bad)
	if err == nil {
		t.Fatalf("p.Test: got no error, want one")
	}
	if got := providers.ReasonOf(err); got != providers.ReasonAuth {
		t.Fatalf("a rejected credential is ReasonAuth: %v: got %q, want %q", err, got, providers.ReasonAuth)
	}
	c.noSecret(t, err)
}

// checkRevoke revokes key twice and checks that it is gone: refused by the
// server, not found or inactive, failing Test.
func (c *contract) checkRevoke(t *testing.T, p providers.Provider, key providers.Key) {
	ctx := c.ctx
	if err := p.Revoke(ctx, key.ID); err != nil {
		t.Fatalf("p.Revoke(ctx, key.ID): %v", err)
	}
	if c.h.Valid(key.Credential) {
		t.Fatalf("a revoked key's credential is refused: got true, want false")
	}
	if err := p.Revoke(ctx, key.ID); err != nil {
		t.Fatalf("revoke is idempotent: %v", err)
	}
	after, err := p.Get(ctx, key.ID)
	if err != nil {
		if !providers.IsNotFound(err) {
			t.Fatalf("after revoke, Get is not found or inactive: %v: got false, want true", err)
		}
	} else {
		if after.Active {
			t.Fatalf("after revoke, Get is not found or inactive: got true, want false")
		}
	}
	_, err = p.Test(ctx, key.ID, key.Credential)
	if err == nil {
		t.Fatalf("a revoked key fails Test: got no error, want one")
	}
	c.noSecret(t, err)
}
