package control

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func echo(_ context.Context, actor string, req Request) Response {
	return Response{Stdout: actor + " " + req.Command + " " + strings.Join(req.Keys, ","), Exit: 1}
}

func serveUnix(t *testing.T, s *Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state.db.sock")
	ln, err := ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	srv := s.UnixServer()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return path
}

// The socket is 0600 and a request from the daemon's own user is carried
// out with that user as the actor; the response comes back whole.
func TestUnixSocketModeAndActor(t *testing.T) {
	path := serveUnix(t, NewServer(echo))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("socket mode = %v, want srw-------", fi.Mode())
	}
	resp, err := Unix(path).Do(context.Background(), Request{Command: "rotate", Keys: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Stdout, "cli:") || !strings.HasSuffix(resp.Stdout, " rotate a,b") || resp.Exit != 1 {
		t.Fatalf("response = %+v", resp)
	}
}

// Another uid than the daemon's (and not root) is refused.
func TestPeerAllowed(t *testing.T) {
	if err := PeerAllowed(1000, 1000); err != nil {
		t.Fatal(err)
	}
	if err := PeerAllowed(0, 1000); err != nil {
		t.Fatal(err)
	}
	if err := PeerAllowed(65534, 1000); err == nil || !strings.Contains(err.Error(), "uid 65534") {
		t.Fatalf("uid 65534 against 1000: %v", err)
	}
}

// No daemon: the client says so, so that the CLI acts on the state file.
func TestNoDaemon(t *testing.T) {
	_, err := Unix(filepath.Join(t.TempDir(), "none.sock")).Do(context.Background(), Request{Command: "status"})
	if !errors.Is(err, ErrNoDaemon) {
		t.Fatalf("err = %v, want ErrNoDaemon", err)
	}
	// A stale socket file (daemon killed) is no daemon either, and a new
	// daemon replaces it.
	path := serveUnix(t, NewServer(echo))
	if _, err := ListenUnix(path); err == nil {
		t.Fatal("a second listener on a live socket succeeded")
	}
}

// During shutdown every request is refused with a clear message.
func TestDrainRefuses(t *testing.T) {
	s := NewServer(echo)
	path := serveUnix(t, s)
	s.Drain()
	_, err := Unix(path).Do(context.Background(), Request{Command: "status"})
	if err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("err = %v", err)
	}
}

// Over HTTP the actor function decides: a refusal is a 403 and nothing is
// carried out; the token goes as a bearer token.
func TestHTTPActorAndToken(t *testing.T) {
	called := false
	s := NewServer(func(ctx context.Context, actor string, req Request) Response {
		called = true
		return echo(ctx, actor, req)
	})
	hs := httptest.NewServer(s.Handler(func(r *http.Request) (string, error) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			return "", errors.New("wrong token")
		}
		return "http:token", nil
	}))
	defer hs.Close()
	for _, tok := range []string{"", "wrong"} {
		if _, err := HTTP(hs.URL, tok).Do(context.Background(), Request{Command: "pause", Keys: []string{"k"}}); err == nil || !strings.Contains(err.Error(), "forbidden") {
			t.Fatalf("token %q: err = %v", tok, err)
		}
	}
	if called {
		t.Fatal("a refused request was carried out")
	}
	resp, err := HTTP(hs.URL, "s3cret").Do(context.Background(), Request{Command: "pause", Keys: []string{"k"}})
	if err != nil || resp.Stdout != "http:token pause k" {
		t.Fatalf("resp = %+v, err = %v", resp, err)
	}
}
