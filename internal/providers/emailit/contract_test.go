package emailit

import (
	"testing"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
	"github.com/rotator-dev/rotator/internal/providers/providertest"
)

func TestContract(t *testing.T) {
	for _, scope := range []string{"full", "sending"} {
		t.Run(scope, func(t *testing.T) {
			var e *env
			providertest.Run(t, providertest.Harness{
				NewProvider: func(t *testing.T) providers.Provider {
					e = newEnv(t, emailittest.Config{}, nil)
					return e.p
				},
				Params:    map[string]string{"scope": scope},
				Valid:     func(c providers.Credential) bool { return e.srv.Valid(c) },
				UnknownID: "999",
				FailNext:  func(op string, n, status int) { e.srv.FailNext(op, n, status) },
				Secrets:   func() []string { return e.srv.IssuedSecrets() },
				Requests: func() int {
					n := 0
					for _, v := range e.srv.Requests() {
						n += v
					}
					return n
				},
			})
		})
	}
}
