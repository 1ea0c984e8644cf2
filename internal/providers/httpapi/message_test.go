package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/providers/httpapi"
)

// TestErrorMessageNeverKeepsPartOfASecret: a provider message quoting the
// management password anywhere around the 300-byte cut keeps no part of
// it, whether the cut falls before, inside or after it.
func TestErrorMessageNeverKeepsPartOfASecret(t *testing.T) {
	const user, pass = "ops@example.com", "Zq9-very-long-management-password-7Xk"
	var offset int
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		msg := strings.Repeat(".", offset) + pass + " and more text"
		body, _ := json.Marshal(map[string]any{"code": 400, "message": msg})
		_, _ = w.Write(body)
	})
	c := e.client(t, httpapi.Config{})
	for offset = 250; offset <= 310; offset++ {
		_, err := c.Do(context.Background(), httpapi.Request{Op: "login", Method: "POST", Path: "/oauth/token",
			Header: httpapi.AuthHeader(httpapi.BasicAuth(user, pass))})
		if err == nil {
			t.Fatalf("c.Do: got no error, want one")
		}
		msg := reasonOf(t, err).Message
		if strings.Contains(msg, pass[:4]) {
			t.Fatalf("offset %d: got %q, want it not to contain %q", offset, msg, pass[:4])
		}
		if strings.HasSuffix(strings.TrimSuffix(msg, "…"), pass[:1]) {
			t.Fatalf("offset %d: %q ends in the password's first byte: got true, want false", offset, msg)
		}
		if len(msg) > 300+len("…") {
			t.Fatalf("len(msg) = %v, want at most %v", len(msg), 300+len("…"))
		}
	}
}

// TestErrorMessageHasNoControlCharacters: terminal escapes in a provider
// message (which --status and logs print) are neutralised.
func TestErrorMessageHasNoControlCharacters(t *testing.T) {
	e := newEnv(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(400)
		body, _ := json.Marshal(map[string]any{"code": 500, "message": "\x1b[31mred\x1b[0m \x9b31m c1 \u202eevil\r\nfake: line\x07\x7f"})
		_, _ = w.Write(body)
	})
	c := e.client(t, httpapi.Config{})
	_, err := c.Do(context.Background(), httpapi.Request{Op: "get", Method: "GET", Path: "/x"})
	if err == nil {
		t.Fatalf("c.Do: got no error, want one")
	}
	pe := reasonOf(t, err)
	for _, s := range []string{pe.Message, pe.Code, err.Error()} {
		for _, c := range s {
			if c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == '\u202e' {
				t.Fatalf("%q holds control character %U: got true, want false", s, c)
			}
		}
	}
	if !strings.Contains(pe.Message, "red") {
		t.Fatalf("got %q, want it to contain %q", pe.Message, "red")
	}
}

func TestCleanText(t *testing.T) {
	secrets := []string{"abc", "secret-value", "pass\tword"}
	for in, want := range map[string]string{
		"plain":                           "plain",
		"a\tb\nc":                         "a b c",
		"key secret-value here":           "key <redacted> here",
		"too short abc stays":             "too short abc stays",
		"0123456789 secret-value":         "0123456789 <redacted…",
		"0123456789012345 secret-valu":    "0123456789012345 …",
		"0123456789012345 sxcret":         "0123456789012345 sxc…",
		"0123456789012345678\u00e9\u00e9": "0123456789012345678…",
		"a pass\tword!":                   "a <redacted>!",
	} {
		if got := httpapi.CleanText(in, 20, secrets); got != want {
			t.Fatalf("CleanText(%q): got %q, want %q", in, got, want)
		}
	}
}
