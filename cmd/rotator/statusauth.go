package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/rotator-dev/rotator/internal/config"
)

// requireOperator guards /status (key names, provider key ids, error
// text) and any later control endpoint. With a token (control.token_file)
// every request must carry it as a bearer token, loopback included; without
// one, only requests from a loopback address are answered.
func requireOperator(token config.Secret, h http.Handler) http.Handler {
	if token == "" {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !fromLoopback(r) {
				http.Error(w, "forbidden: without control.token_file this endpoint answers only on loopback", http.StatusForbidden)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
	want := sha256.Sum256([]byte(token.Reveal()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		ok = ok && strings.EqualFold(scheme, "Bearer")
		// Equal-length digests compared in constant time: neither the
		// token's bytes nor its length leak through timing.
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="rotator"`)
			http.Error(w, "unauthorized: this endpoint needs the bearer token of control.token_file", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// fromLoopback reports whether the request came from a loopback address
// (127.0.0.0/8, ::1, or 127.x mapped into IPv6).
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
