package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// maxRequest bounds a request body.
const maxRequest = 64 << 10

// Server serves control requests to a Handler.
type Server struct {
	h        Handler
	draining atomic.Bool
}

// NewServer serves h.
func NewServer(h Handler) *Server { return &Server{h: h} }

// Drain makes every later request fail with a clear message: the daemon
// is shutting down.
func (s *Server) Drain() { s.draining.Store(true) }

// shuttingDown is the refusal during shutdown.
const shuttingDown = "the daemon is shutting down: no control request is accepted; run the command again once it stopped (it then acts on the state file) or restarted"

// Handler is the HTTP handler; actor names who asks, or refuses the
// request with an error (403).
func (s *Server) Handler(actor func(*http.Request) (string, error)) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/command", func(w http.ResponseWriter, r *http.Request) {
		who, err := actor(r)
		if err != nil {
			http.Error(w, "forbidden: "+err.Error(), http.StatusForbidden)
			return
		}
		if s.draining.Load() {
			http.Error(w, shuttingDown, http.StatusServiceUnavailable)
			return
		}
		var req Request
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxRequest))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		// A command runs to its end even when the client goes away (an
		// operator's Ctrl-C): a rotation cut between steps would wait for
		// the key's next evaluation to be resumed.
		resp := s.h(context.WithoutCancel(r.Context()), who, req)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
	return mux
}

// peerKey is the context key of a unix connection's peer uid.
type peerKey struct{}

// UnixServer serves the unix socket: peers are identified by SO_PEERCRED
// and only the daemon's own user (or root) is answered.
func (s *Server) UnixServer() *http.Server {
	own := uint32(os.Getuid())
	return &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			if uc, ok := c.(*net.UnixConn); ok {
				if uid, err := PeerUID(uc); err == nil {
					return context.WithValue(ctx, peerKey{}, uid)
				}
			}
			return ctx
		},
		Handler: s.Handler(func(r *http.Request) (string, error) {
			uid, ok := r.Context().Value(peerKey{}).(uint32)
			if !ok {
				return "", errors.New("cannot read the peer's credentials")
			}
			if err := PeerAllowed(uid, own); err != nil {
				return "", err
			}
			return "cli:" + userName(uid), nil
		}),
	}
}

// PeerUID is the uid of the process at the other end of a unix socket.
func PeerUID(c *net.UnixConn) (uint32, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, err
	}
	if cerr != nil {
		return 0, cerr
	}
	return cred.Uid, nil
}

// PeerAllowed admits the daemon's own user and root (who can read the
// state file anyway), and no one else.
func PeerAllowed(peer, own uint32) error {
	if peer == own || peer == 0 {
		return nil
	}
	return fmt.Errorf("uid %d is neither the daemon's user (uid %d) nor root", peer, own)
}

func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return "uid" + id
}

// SocketPath is the control socket of the daemon holding this state file.
func SocketPath(statePath string) string { return statePath + ".sock" }

// ListenUnix creates the socket at path with mode 0600 from the first
// moment: it is made in a private folder and renamed into place, so no
// other user can connect in between. A stale socket (no daemon answers)
// is replaced; a live one is an error.
func ListenUnix(path string) (net.Listener, error) {
	if a, done, err := addr(path); err == nil {
		c, err := net.DialTimeout("unix", a, time.Second)
		done()
		if err == nil {
			c.Close()
			return nil, fmt.Errorf("control socket %s: another daemon answers there", path)
		}
	}
	tmp, err := os.MkdirTemp(filepath.Dir(path), ".rotator-sock-")
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	defer os.RemoveAll(tmp)
	a, done, err := addr(filepath.Join(tmp, "s"))
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ln, err := net.Listen("unix", a)
	done()
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	ul := ln.(*net.UnixListener)
	ul.SetUnlinkOnClose(false)
	err = os.Chmod(filepath.Join(tmp, "s"), 0o600)
	if err == nil {
		err = os.Rename(filepath.Join(tmp, "s"), path)
	}
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	return &unixListener{UnixListener: ul, path: path}, nil
}

// unixListener removes its socket file on Close.
type unixListener struct {
	*net.UnixListener
	path string
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	_ = os.Remove(l.path)
	return err
}
