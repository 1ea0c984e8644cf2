package sdnotify

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jonboulle/clockwork"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// listen plays systemd: it binds NOTIFY_SOCKET and returns what the daemon
// sends, one datagram per receive.
func listen(t *testing.T) (recv func() string, pending func() string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatalf("net.ListenUnixgram: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	read := func(deadline time.Time) string {
		buf := make([]byte, 4096)
		if err := conn.SetReadDeadline(deadline); err != nil {
			t.Fatalf("conn.SetReadDeadline(deadline): %v", err)
		}
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
		if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatalf("conn.SetReadDeadline(time.Now().Add(10*time.Second)): %v", err)
		}
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("conn.Read: %v", err)
		}
		return string(buf[:n])
	}
	// pending returns a datagram already queued, or "".
	pending = func() string { return read(time.Now()) }
	return recv, pending
}

func TestReadyStopping(t *testing.T) {
	recv, _ := listen(t)

	if err := Ready("3 keys, next rotation in 2h"); err != nil {
		t.Fatalf("Ready(\"3 keys, next rotation in 2h\"): %v", err)
	}
	if got := recv(); got != "READY=1\nSTATUS=3 keys, next rotation in 2h" {
		t.Fatalf("recv() = %q, want %q", got, "READY=1\nSTATUS=3 keys, next rotation in 2h")
	}

	if err := Stopping(); err != nil {
		t.Fatalf("Stopping(): %v", err)
	}
	if got := recv(); got != "STOPPING=1" {
		t.Fatalf("recv() = %q, want %q", got, "STOPPING=1")
	}
}

func TestNotUnderSystemdIsANoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := Ready("x"); err != nil {
		t.Fatalf("Ready(\"x\"): %v", err)
	}
	if err := Stopping(); err != nil {
		t.Fatalf("Stopping(): %v", err)
	}
}

func TestNotifySocketGoneIsAnError(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing.sock"))
	err := Ready("x")
	if err == nil {
		t.Fatalf("Ready: got no error, want one")
	}
	if !strings.HasPrefix(err.Error(), "sd_notify ready: ") {
		t.Fatalf("%s: got false, want true", err.Error())
	}
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
	if got := recv(); got != "WATCHDOG=1" {
		t.Fatalf("first ping at start: got %q, want %q", got, "WATCHDOG=1")
	}

	if err := clock.BlockUntilContext(ctx, 1); err != nil {
		t.Fatalf("clock.BlockUntilContext(ctx, 1): %v", err)
	}
	clock.Advance(29 * time.Second)
	select {
	case healthy <- true:
		t.Fatal("health checked before half the interval")
	default:
	}
	clock.Advance(time.Second)
	answer(true)
	if got := recv(); got != "WATCHDOG=1" {
		t.Fatalf("ping at 30s: got %q, want %q", got, "WATCHDOG=1")
	}

	// Unhealthy: the tick passes and nothing is sent; the log says why.
	clock.Advance(30 * time.Second)
	answer(false)
	for deadline := time.Now().Add(10 * time.Second); logs.FilterMessage("systemd watchdog ping withheld: daemon unhealthy").Len() != 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("got %d \"ping withheld\" logs after 10s, want 1", logs.FilterMessage("systemd watchdog ping withheld: daemon unhealthy").Len())
		}
	}

	clock.Advance(30 * time.Second)
	answer(true)
	if got := recv(); got != "WATCHDOG=1" {
		t.Fatalf("ping resumes when healthy: got %q, want %q", got, "WATCHDOG=1")
	}
	if got := pending(); got != "" {
		t.Fatalf("a ping was sent while unhealthy: got %q, want empty", got)
	}
	if got := logs.FilterMessage("systemd watchdog on").Len(); got != 1 {
		t.Fatalf("logs.FilterMessage(\"systemd watchdog on\").Len() = %v, want %v", got, 1)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("<-done: %v", err)
	}
}

func TestWatchdogOff(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	t.Setenv("WATCHDOG_USEC", "")
	if err := Watchdog(context.Background(), clockwork.NewFakeClock(), zap.NewNop(), nil); err != nil {
		t.Fatalf("Watchdog: %v", err)
	}
}

func TestWatchdogMalformed(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "sixty")
	t.Setenv("WATCHDOG_PID", "")
	err := Watchdog(context.Background(), clockwork.NewFakeClock(), zap.NewNop(), nil)
	if err == nil {
		t.Fatalf("Watchdog: got no error, want one")
	}
	if got := err.Error(); !strings.Contains(got, "sd_notify watchdog: ") {
		t.Fatalf("got %q, want it to contain %q", got, "sd_notify watchdog: ")
	}
}
