package vault

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"
)

// responseError is a Vault error response told in one line: "PUT
// secret/data/mail/x: 400: check-and-set parameter did not match the
// current version". It keeps the *api.ResponseError for errors.As.
type responseError struct {
	method, path string
	code         int
	msgs         []string
	err          *api.ResponseError
}

func (e *responseError) Error() string {
	msg := strings.Join(e.msgs, "; ")
	if msg == "" {
		msg = http.StatusText(e.code)
	}
	return fmt.Sprintf("%s %s: %d: %s", e.method, e.path, e.code, msg)
}

func (e *responseError) Unwrap() error { return e.err }

// describe turns an *api.ResponseError anywhere in err's chain into a
// one-line responseError. A body that is not Vault's JSON (a proxy's page)
// is left out: it could echo the request. Other errors pass through.
func describe(err error) error {
	if err == nil {
		return nil
	}
	var re *responseError
	if errors.As(err, &re) {
		return err
	}
	var ae *api.ResponseError
	if !errors.As(err, &ae) {
		return err
	}
	e := &responseError{method: ae.HTTPMethod, path: ae.URL, code: ae.StatusCode, err: ae}
	if u, perr := url.Parse(ae.URL); perr == nil {
		e.path = strings.TrimPrefix(u.Path, "/v1/")
	}
	if ae.RawError {
		e.msgs = []string{"the response is not Vault's JSON"}
	} else {
		for _, m := range ae.Errors {
			if len(m) > 300 {
				m = m[:300] + "..."
			}
			e.msgs = append(e.msgs, oneLine(m))
		}
	}
	return e
}

func statusCode(err error) int {
	var ae *api.ResponseError
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

func isPermissionDenied(err error) bool { return statusCode(err) == http.StatusForbidden }

// isCASMismatch reports Vault KV v2's refusal of a write whose cas is not
// the current version.
func isCASMismatch(err error) bool {
	var ae *api.ResponseError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadRequest {
		return false
	}
	for _, m := range ae.Errors {
		if strings.Contains(m, "check-and-set parameter did not match") {
			return true
		}
	}
	return false
}

// oneLine flattens Vault's multierror text ("1 error occurred:\n\t* permission
// denied\n\n") to "permission denied".
func oneLine(m string) string {
	var parts []string
	for _, l := range strings.Split(m, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasSuffix(l, "error occurred:") || strings.HasSuffix(l, "errors occurred:") {
			continue
		}
		parts = append(parts, strings.TrimPrefix(l, "* "))
	}
	return strings.Join(parts, "; ")
}
