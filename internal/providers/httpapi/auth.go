package httpapi

import (
	"encoding/base64"
	"net/http"
)

// BasicAuth returns an Authorization header value for HTTP Basic auth.
func BasicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// Bearer returns an Authorization header value for a bearer token.
func Bearer(token string) string { return "Bearer " + token }

// AuthHeader returns a header carrying only Authorization: value.
func AuthHeader(value string) http.Header {
	return http.Header{"Authorization": []string{value}}
}

func decodeBase64(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
