// Command vaultdev runs a real, unsealed, in-memory Vault server for the
// integration tests of the Vault sink. It is Vault's own core, built with
// Vault's test harness (the same code paths as `vault server -dev`), with:
//
//   - secret/     KV version 2 (the default `secret/` mount of a test core is
//     KV v1, so it is replaced);
//   - kv1/        KV version 1;
//   - approle/    the AppRole auth method;
//   - kubernetes/ the Kubernetes auth method, configured against a TokenReview
//     endpoint served by this program that accepts exactly one service
//     account token (printed as kubernetes_jwt) for the service account
//     default/rotator.
//
// It serves plain HTTP on a loopback port and prints one JSON line on stdout,
//
//	{"address":"http://127.0.0.1:PORT","root_token":"...","kubernetes_jwt":"..."}
//
// then serves until stdin is closed or it receives SIGTERM or SIGINT.
package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	kubeauth "github.com/hashicorp/vault-plugin-auth-kubernetes"
	kv "github.com/hashicorp/vault-plugin-secrets-kv"
	"github.com/hashicorp/vault/api"
	"github.com/hashicorp/vault/builtin/credential/approle"
	vaulthttp "github.com/hashicorp/vault/http"
	"github.com/hashicorp/vault/sdk/logical"
	"github.com/hashicorp/vault/vault"
	testing "github.com/mitchellh/go-testing-interface"
)

// Info is the line printed on stdout once Vault is ready.
type Info struct {
	Address       string `json:"address"`
	RootToken     string `json:"root_token"`
	KubernetesJWT string `json:"kubernetes_jwt"`
	// KubernetesServiceAccount is "namespace/name" of the account the JWT
	// belongs to.
	KubernetesServiceAccount string `json:"kubernetes_service_account"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "vaultdev:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() { // stdin closing (the test process exiting) stops us too
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()

	tr, err := newTokenReview("default", "rotator")
	if err != nil {
		return err
	}
	// The Kubernetes API is https-only, and Vault insists on its CA.
	trSrv := httptest.NewTLSServer(tr)
	defer trSrv.Close()
	trCA := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: trSrv.Certificate().Raw}))

	level := hclog.Error
	if os.Getenv("VAULTDEV_LOG") != "" {
		level = hclog.LevelFromString(os.Getenv("VAULTDEV_LOG"))
	}
	core, _, rootToken := vault.TestCoreUnsealedWithConfig(&testing.RuntimeT{}, &vault.CoreConfig{
		Logger:             hclog.New(&hclog.LoggerOptions{Name: "vault", Level: level, Output: os.Stderr}),
		LogicalBackends:    map[string]logical.Factory{"kv": kv.Factory},
		CredentialBackends: map[string]logical.Factory{"approle": approle.Factory, "kubernetes": kubeauth.Factory},
	})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: vaulthttp.Handler.Handler(&vault.HandlerProperties{Core: core}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	addr := "http://" + ln.Addr().String()

	if err := setup(ctx, addr, rootToken, trSrv.URL, trCA); err != nil {
		return err
	}
	if err := json.NewEncoder(os.Stdout).Encode(Info{
		Address:                  addr,
		RootToken:                rootToken,
		KubernetesJWT:            tr.jwt,
		KubernetesServiceAccount: "default/rotator",
	}); err != nil {
		return err
	}

	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	return core.Shutdown()
}

// setup mounts what the tests use, through the HTTP API as an operator
// would.
func setup(ctx context.Context, addr, rootToken, tokenReviewURL, tokenReviewCA string) error {
	cfg := api.DefaultConfig()
	cfg.Address = addr
	c, err := api.NewClient(cfg)
	if err != nil {
		return err
	}
	c.SetToken(rootToken)
	sys := c.Sys()
	if err := sys.UnmountWithContext(ctx, "secret"); err != nil {
		return fmt.Errorf("unmount secret/: %w", err)
	}
	if err := sys.MountWithContext(ctx, "secret", &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		return fmt.Errorf("mount secret/ (kv v2): %w", err)
	}
	if err := sys.MountWithContext(ctx, "kv1", &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		return fmt.Errorf("mount kv1/: %w", err)
	}
	if err := sys.EnableAuthWithOptionsWithContext(ctx, "approle", &api.EnableAuthOptions{Type: "approle"}); err != nil {
		return fmt.Errorf("enable approle: %w", err)
	}
	if err := sys.EnableAuthWithOptionsWithContext(ctx, "kubernetes", &api.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		return fmt.Errorf("enable kubernetes: %w", err)
	}
	if _, err := c.Logical().WriteWithContext(ctx, "auth/kubernetes/config", map[string]any{
		"kubernetes_host":      tokenReviewURL,
		"kubernetes_ca_cert":   tokenReviewCA,
		"disable_local_ca_jwt": true,
	}); err != nil {
		return fmt.Errorf("configure kubernetes auth: %w", err)
	}
	// A new KV v2 mount initialises in the background: wait until it
	// accepts a write, so that the tests never see that window.
	var last error
	for range 200 {
		if _, last = c.Logical().WriteWithContext(ctx, "secret/data/vaultdev-ready", map[string]any{"data": map[string]any{"ok": "yes"}}); last == nil {
			_, err := c.Logical().DeleteWithContext(ctx, "secret/metadata/vaultdev-ready")
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("secret/ (kv v2) never became writable: %w", last)
}
