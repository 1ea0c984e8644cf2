package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/control"
)

// control.listen serves the control API over HTTP with the bearer token of
// control.token_file: without it or with a wrong one nothing is done; with
// it the command runs with the actor http:token.
func TestControlOverHTTPNeedsTheToken(t *testing.T) {
	e := newEnv(t, "1h")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	addr := ln.Addr().String()
	ln.Close()
	must(t, os.WriteFile(filepath.Join(e.dir, "token"), []byte("operator-token\n"), 0o600))
	raw, err := os.ReadFile(e.config)
	must(t, err)
	must(t, os.WriteFile(e.config, append(raw, []byte("control: {token_file: ./token, listen: "+addr+"}\n")...), 0o600))

	errb, stop := runDaemon(t, e)
	ctx := context.Background()
	waitStatus(t, e, "mail")
	url := "http://" + addr
	pause := control.Request{Command: "pause", Keys: []string{"mail"}}
	for _, tok := range []string{"", "wrong-token"} {
		if _, err := control.HTTP(url, tok).Do(ctx, pause); err == nil || !strings.Contains(err.Error(), "401") && !strings.Contains(err.Error(), "unauthorized") {
			t.Errorf("token %q: err %v, want unauthorized", tok, err)
		}
	}
	if _, o, _ := runCLI(t, "status", "--config", e.config, "--json"); strings.Contains(o, `"paused": true`) {
		t.Fatal("a request without the token paused the key")
	}
	resp, err := control.HTTP(url, "operator-token").Do(ctx, pause)
	if err != nil || resp.Exit != 0 || resp.Stdout != "mail: paused by http:token\n" {
		t.Fatalf("with the token: %+v %v", resp, err)
	}
	stop()
	if strings.Contains(errb.String(), "operator-token") {
		t.Error("the token appears in the logs")
	}
}

// control.listen without a token is refused at check, naming the field.
func TestControlListenNeedsToken(t *testing.T) {
	e := newEnv(t, "1h")
	raw, err := os.ReadFile(e.config)
	must(t, err)
	must(t, os.WriteFile(e.config, append(raw, []byte("control: {listen: 127.0.0.1:9999}\n")...), 0o600))
	code, _, errs := runCLI(t, "check", "--config", e.config)
	if code != exitConfig || !strings.Contains(errs, "control.listen") || !strings.Contains(errs, "needs control.token_file") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}

// A busy listen port says how to choose another.
func TestBusyListenSuggestsFlag(t *testing.T) {
	e := newEnv(t, "1h")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer ln.Close()
	code, _, errs := runCLI(t, "run", "--config", e.config, "--listen", ln.Addr().String())
	if code != exitFailed || !strings.Contains(errs, "the address is in use; choose another with --listen ADDR") {
		t.Fatalf("exit %d: %s", code, errs)
	}
}
