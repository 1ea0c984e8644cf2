package sdnotify

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// listen plays systemd: it binds NOTIFY_SOCKET and returns what the daemon
// sends, one datagram per receive.
func listen(t *testing.T) (recv func() string, pending func() string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	read := func(deadline time.Time) string {
		buf := make([]byte, 4096)
		require.NoError(t, conn.SetReadDeadline(deadline))
		n, err := conn.Read(buf)
		if err != nil {
			return ""
		}
		return string(buf[:n])
	}
	recv = func() string {
		t.Helper()
		buf := make([]byte, 4096)
		// A deadline, not a sleep: a lost datagram fails the test instead
		// of hanging it.
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		n, err := conn.Read(buf)
		require.NoError(t, err)
		return string(buf[:n])
	}
	// pending returns a datagram already queued, or "".
	pending = func() string { return read(time.Now()) }
	return recv, pending
}

func TestReadyStopping(t *testing.T) {
	recv, _ := listen(t)

	require.NoError(t, Ready("3 keys, next rotation in 2h"))
	require.Equal(t, "READY=1\nSTATUS=3 keys, next rotation in 2h", recv())

	require.NoError(t, Stopping())
	require.Equal(t, "STOPPING=1", recv())
}

func TestNotUnderSystemdIsANoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	require.NoError(t, Ready("x"))
	require.NoError(t, Stopping())
}

func TestNotifySocketGoneIsAnError(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing.sock"))
	err := Ready("x")
	require.Error(t, err)
	require.True(t, strings.HasPrefix(err.Error(), "sd_notify ready: "), err.Error())
}

func TestWatchdogPingsAtHalfTheInterval(t *testing.T) {
	recv, pending := listen(t)
	t.Setenv("WATCHDOG_USEC", "60000000") // WatchdogSec=60s
	t.Setenv("WATCHDOG_PID", "")
	clock := clockwork.NewFakeClock()
	// Unbuffered: every health check waits for the test to answer, so the
	// test knows exactly when the loop asked.
	healthy := make(chan bool)
	answer := func(v bool) {
		t.Helper()
		select {
		case healthy <- v:
		case <-time.After(10 * time.Second):
			t.Fatal("watchdog did not check health")
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	core, logs := observer.New(zap.InfoLevel)
	go func() {
		done <- Watchdog(ctx, clock, zap.New(core), func() bool { return <-healthy })
	}()

	answer(true)
	require.Equal(t, "WATCHDOG=1", recv(), "first ping at start")

	require.NoError(t, clock.BlockUntilContext(ctx, 1))
	clock.Advance(29 * time.Second)
	select {
	case healthy <- true:
		t.Fatal("health checked before half the interval")
	default:
	}
	clock.Advance(time.Second)
	answer(true)
	require.Equal(t, "WATCHDOG=1", recv(), "ping at 30s")

	// Unhealthy: the tick passes and nothing is sent; the log says why.
	clock.Advance(30 * time.Second)
	answer(false)
	require.Eventually(t, func() bool {
		return logs.FilterMessage("systemd watchdog ping withheld: daemon unhealthy").Len() == 1
	}, 10*time.Second, time.Millisecond)

	clock.Advance(30 * time.Second)
	answer(true)
	require.Equal(t, "WATCHDOG=1", recv(), "ping resumes when healthy")
	require.Empty(t, pending(), "a ping was sent while unhealthy")
	require.Equal(t, 1, logs.FilterMessage("systemd watchdog on").Len())

	cancel()
	require.NoError(t, <-done)
}

func TestWatchdogOff(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")
	require.NoError(t, Watchdog(context.Background(), clockwork.NewFakeClock(), zap.NewNop(), nil))
}

func TestWatchdogMalformed(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "sixty")
	t.Setenv("WATCHDOG_PID", "")
	err := Watchdog(context.Background(), clockwork.NewFakeClock(), zap.NewNop(), nil)
	require.Error(t, err)
	require.Contains(t, err.Error(), "sd_notify watchdog: ")
}
