// Package sdnotify tells systemd about the daemon's life cycle through the
// sd_notify(3) protocol when rotator runs as a Type=notify service
// (deploy/systemd/rotator.service), and does nothing when it does not
// (NOTIFY_SOCKET unset: a terminal, a container, Kubernetes).
//
// The daemon calls Ready once its start-up checks pass, runs Watchdog for
// its lifetime, and calls Stopping when it begins to shut down. The
// protocol itself is github.com/coreos/go-systemd/v22/daemon.
package sdnotify

import (
	"fmt"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Ready tells systemd that start-up is complete (READY=1): `systemctl
// start` returns and units ordered after rotator start. status is shown by
// `systemctl status` (STATUS=); it must hold no secret. It returns nil when
// not running under systemd.
func Ready(status string) error {
	return notify("ready", daemon.SdNotifyReady+"\nSTATUS="+status)
}

// Stopping tells systemd that shutdown has begun (STOPPING=1), so that a
// slow drain is not taken for a hang.
func Stopping() error {
	return notify("stopping", daemon.SdNotifyStopping)
}

func notify(op, state string) error {
	if _, err := daemon.SdNotify(false, state); err != nil {
		return fmt.Errorf("sd_notify %s: %w", op, err)
	}
	return nil
}
