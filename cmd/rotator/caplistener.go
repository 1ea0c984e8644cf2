package main

import (
	"net"
	"net/http"
	"sync"
)

// capListener serves at most max connections at once. A connection
// accepted beyond the cap waits, unserved, for a slot; to free one it
// closes an idle keep-alive connection (its client reconnects), so idle
// connections cannot hold the cap against Prometheus and the probes.
// Register its trackState as the server's ConnState.
type capListener struct {
	net.Listener
	sem  chan struct{}
	done chan struct{}
	once sync.Once

	mu   sync.Mutex
	idle map[net.Conn]struct{}
}

func newCapListener(l net.Listener, max int) *capListener {
	return &capListener{Listener: l, sem: make(chan struct{}, max), done: make(chan struct{}), idle: map[net.Conn]struct{}{}}
}

// Accept returns the next connection once a slot is free.
func (l *capListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	select {
	case l.sem <- struct{}{}:
	default:
		l.closeOneIdle()
		select {
		case l.sem <- struct{}{}:
		case <-l.done:
			c.Close()
			return nil, net.ErrClosed
		}
	}
	return &capConn{Conn: c, l: l}, nil
}

// Close closes the listener and unblocks a waiting Accept.
func (l *capListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

func (l *capListener) closeOneIdle() {
	l.mu.Lock()
	var victim net.Conn
	for c := range l.idle {
		victim = c
		delete(l.idle, c)
		break
	}
	l.mu.Unlock()
	if victim != nil {
		victim.Close()
	}
}

// trackState keeps the set of idle connections (http.Server.ConnState).
func (l *capListener) trackState(c net.Conn, s http.ConnState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if s == http.StateIdle {
		l.idle[c] = struct{}{}
	} else {
		delete(l.idle, c)
	}
}

// capConn frees its slot when closed (once, however often Close is called).
type capConn struct {
	net.Conn
	l    *capListener
	once sync.Once
}

func (c *capConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { <-c.l.sem })
	return err
}
