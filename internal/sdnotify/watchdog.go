package sdnotify

import (
	"context"
	"fmt"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
)

// Watchdog keeps systemd's watchdog (WatchdogSec= in the unit, seen as
// WATCHDOG_USEC) fed: it sends WATCHDOG=1 at once and then every half
// interval until ctx ends, but only while healthy returns true (nil means
// always healthy). When healthy stays false for a whole interval, systemd
// kills the daemon and Restart=on-failure starts a fresh one: pass a check
// that fails when the scheduler is wedged, not when a provider is down.
//
// It returns nil at once when the watchdog is off (no WATCHDOG_USEC, or it
// is meant for another process), and an error when WATCHDOG_USEC is
// malformed. Send failures are logged and retried at the next tick.
func Watchdog(ctx context.Context, clock clockwork.Clock, log *zap.Logger, healthy func() bool) error {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return fmt.Errorf("sd_notify watchdog: %w", err)
	}
	if interval <= 0 {
		return nil
	}
	log.Info("systemd watchdog on", zap.Duration("interval", interval))
	ticker := clock.NewTicker(interval / 2)
	defer ticker.Stop()
	for {
		if healthy == nil || healthy() {
			if _, err := daemon.SdNotify(false, daemon.SdNotifyWatchdog); err != nil {
				log.Warn("systemd watchdog ping failed", zap.Error(err))
			}
		} else {
			log.Warn("systemd watchdog ping withheld: daemon unhealthy")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.Chan():
		}
	}
}
