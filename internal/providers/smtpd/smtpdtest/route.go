package smtpdtest

import (
	"net/http"
	"strings"
)

// route maps a request to its operation and key id.
func route(r *http.Request) (op, id string) {
	p := strings.TrimSuffix(r.URL.Path, "/")
	m := r.Method
	const keys = "/api/v1/account/api_key"
	switch {
	case p == "/oauth/token":
		if m != http.MethodPost {
			return "method", ""
		}
		switch r.URL.Query().Get("grant_type") {
		case "password":
			return OpLogin, ""
		case "refresh_token":
			return OpRefresh, ""
		}
		return "bad_grant", ""
	case p == "/oauth/revoke":
		return methodOr(m, http.MethodPost, OpLogout), ""
	case p == "/oauth/me":
		return methodOr(m, http.MethodGet, OpMe), ""
	case p == "/api/v1/account":
		return methodOr(m, http.MethodGet, OpAccount), ""
	case p == keys:
		switch m {
		case http.MethodPost:
			return OpCreate, ""
		case http.MethodGet:
			return OpList, ""
		}
		return "method", ""
	case strings.HasPrefix(p, keys+"/"):
		rest := strings.Split(strings.TrimPrefix(p, keys+"/"), "/")
		switch {
		case len(rest) == 1:
			return methodOr(m, http.MethodGet, OpGet), rest[0]
		case len(rest) == 2 && rest[1] == "revoke":
			return methodOr(m, http.MethodPut, OpRevoke), rest[0]
		case len(rest) == 2 && rest[1] == "sessions":
			return methodOr(m, http.MethodGet, OpSessions), rest[0]
		}
	}
	return "unknown", ""
}

func methodOr(got, want, op string) string {
	if got != want {
		return "method"
	}
	return op
}
