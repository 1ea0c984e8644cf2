package sinktest

import (
	"errors"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks"
)

// The ownership cases: a first write must not take over a secret rotator
// did not write (sinks.ErrNotOwned) unless the target says adopt: true,
// and every write marks the secret as rotator's own.

// foreignData is another team's secret, with the fields rotator writes
// (so that a store mapping fields to places can hold it) and other values.
func (c *contractCase) foreignData() sinks.Secret {
	v := "their-" + randHex(12)
	c.mu.Lock()
	c.secrets = append(c.secrets, v)
	c.mu.Unlock()
	return sinks.Secret{"key": v, "secret": "theirs", "key_id": "their-id", "key_name": "billing", "created_at": "2020-01-01T00:00:00Z"}
}

func caseForeign(t *testing.T, c *contractCase) {
	ctx := t.Context()
	theirs := c.foreignData()
	c.h.Foreign(t, c.target, theirs)
	w := c.write("r1")
	_, err := c.target.Write(ctx, w)
	c.checkErr(t, err)
	if !errors.Is(err, sinks.ErrNotOwned) {
		t.Fatalf("Write over a secret rotator did not write: got %v, want an error wrapping sinks.ErrNotOwned", err)
	}
	if !strings.Contains(err.Error(), "adopt: true") {
		t.Errorf("the error does not say how to adopt the secret (adopt: true): %v", err)
	}
	if p, ok := c.target.(sinks.Promoter); ok {
		// A staging store: nothing may have been staged to promote.
		if err := p.Promote(ctx, w); err == nil {
			t.Error("Promote after a refused Write succeeded")
		}
	}
	requireSame(t, c.mustRead(t, ctx), theirs)
}

func caseAdopt(t *testing.T, c *contractCase) {
	ctx := t.Context()
	c.h.Foreign(t, c.target, c.foreignData())
	adopting := c.h.Rebind(t, c.target, true, c.deps)
	w1 := c.write("r1")
	if _, err := adopting.Write(ctx, w1); err != nil {
		c.checkErr(t, err)
		t.Fatalf("Write with adopt: true: %v", err)
	}
	if p, ok := adopting.(sinks.Promoter); ok {
		if err := p.Promote(ctx, w1); err != nil {
			c.checkErr(t, err)
			t.Fatalf("Promote with adopt: true: %v", err)
		}
	}
	requireSame(t, c.mustRead(t, ctx), w1.Data)
	// Adopted and marked: the target without adopt now writes it too.
	w2 := c.write("r2")
	c.writeCurrent(t, ctx, w2)
	requireSame(t, c.mustRead(t, ctx), w2.Data)
}

func caseOwn(t *testing.T, c *contractCase) {
	ctx := t.Context()
	w1 := c.write("r1")
	c.writeCurrent(t, ctx, w1)
	// A new sink (a restart) without adopt recognises rotator's own secret.
	again := c.h.Rebind(t, c.target, false, c.deps)
	w2 := c.write("r2")
	if _, err := again.Write(ctx, w2); err != nil {
		c.checkErr(t, err)
		t.Fatalf("rotator's own secret refused after a restart: %v", err)
	}
	if p, ok := again.(sinks.Promoter); ok {
		if err := p.Promote(ctx, w2); err != nil {
			c.checkErr(t, err)
			t.Fatalf("Promote: %v", err)
		}
	}
	got, err := again.Read(ctx)
	c.checkErr(t, err)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	requireSame(t, got, w2.Data)
}
