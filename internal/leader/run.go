package leader

import (
	"context"
	"errors"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
)

// renewRetry is how soon a failed renewal (not ErrLost) is retried.
const renewRetry = time.Second

// releaseTimeout bounds the release on the way out of a tenure.
const releaseTimeout = 5 * time.Second

// Run campaigns until ctx ends. As a follower it tries to acquire the
// lease every RetryInterval. Once leader, it calls lead with the tenure's
// FencedStore and a context that is cancelled when the tenure ends: the
// lease was taken over (a renewal found another token), it was not renewed
// before the local deadline, or ctx ended. It renews every RenewInterval
// meanwhile, waits for lead to return, releases the lease (so that a
// follower takes over at once) and campaigns again. Run returns when ctx
// is done and no tenure is left running.
func (l *Lease) Run(ctx context.Context, lead func(ctx context.Context, fs *FencedStore)) {
	for {
		// Real time: the bound guards a network call, not the lease.
		actx, cancel := context.WithTimeout(ctx, l.o.TTL)
		ok, err := l.Acquire(actx)
		cancel()
		if err != nil && ctx.Err() == nil {
			l.o.Logger.Warn("leadership lease acquisition failed", zap.String("holder", l.o.Holder), zap.Error(err))
		}
		if ok {
			l.serve(ctx, lead)
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-l.o.Clock.After(l.o.RetryInterval):
		}
	}
}

// serve runs one tenure.
func (l *Lease) serve(ctx context.Context, lead func(ctx context.Context, fs *FencedStore)) {
	fs, err := l.Fenced(ctx)
	if err != nil {
		return
	}
	log := l.o.Logger.With(zap.String("holder", l.o.Holder), zap.Int64("token", fs.token))
	log.Info("leadership acquired")
	tctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		lead(tctx, fs)
	}()
	err = l.keep(tctx, fs.token, done)
	cancel()
	<-done
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer rcancel()
	if rerr := l.Release(rctx); rerr != nil {
		log.Warn("leadership lease release failed", zap.Error(rerr))
	}
	if err != nil {
		log.Warn("leadership lost", zap.Error(err))
	} else {
		log.Info("leadership released")
	}
}

// keep renews the tenure's lease until it is lost (the error), lead
// returns or ctx ends (nil).
func (l *Lease) keep(ctx context.Context, token int64, done <-chan struct{}) error {
	t := l.o.Clock.NewTimer(l.o.RenewInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-done:
			return nil
		case <-t.Chan():
		}
		deadline := l.deadlineOf(token)
		rctx, cancel := clockwork.WithDeadline(ctx, l.o.Clock, deadline)
		err := l.Renew(rctx)
		cancel()
		switch {
		case err == nil:
			t.Reset(l.o.RenewInterval)
		case errors.Is(err, ErrLost) || errors.Is(err, ErrNotLeader):
			return ErrLost
		case ctx.Err() != nil:
			return nil
		case !l.o.Clock.Now().Before(deadline):
			return errors.Join(ErrLeaseExpired, err)
		default:
			l.o.Logger.Warn("leadership lease renewal failed", zap.String("holder", l.o.Holder), zap.Error(err))
			t.Reset(min(renewRetry, l.o.Clock.Until(deadline)))
		}
	}
}
