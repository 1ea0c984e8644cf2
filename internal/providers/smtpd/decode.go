package smtpd

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/flexjson"
)

// The response decoders below are pure functions of the body, fuzzed in
// decode_fuzz_test.go. Their errors never quote the body: it may carry a
// token or a secret.

// token is a management (or tested key's) login.
type token struct {
	access  string
	refresh string
	expiry  time.Time
}

// decodeToken reads a /oauth/token response. The expiry comes from
// expires_in (seconds), else expires_at (milliseconds above 1e12, else
// seconds), else the access token's JWT exp claim, else one minute.
func decodeToken(body []byte, now time.Time) (token, error) {
	var r struct {
		AccessToken  string          `json:"access_token"`
		RefreshToken string          `json:"refresh_token"`
		ExpiresIn    flexjson.Number `json:"expires_in"`
		ExpiresAt    flexjson.Number `json:"expires_at"`
	}
	if err := unmarshal(body, &r); err != nil {
		return token{}, fmt.Errorf("token response: %w", err)
	}
	if r.AccessToken == "" {
		return token{}, errors.New("token response: no access_token")
	}
	t := token{access: r.AccessToken, refresh: r.RefreshToken}
	switch {
	case r.ExpiresIn > 0:
		t.expiry = now.Add(time.Duration(float64(r.ExpiresIn) * float64(time.Second)))
	case r.ExpiresAt > 0:
		t.expiry = unixAny(float64(r.ExpiresAt))
	default:
		if exp, ok := jwtExp(r.AccessToken); ok {
			t.expiry = exp
		}
	}
	// An absent, absurd or already past expiry (clock skew) falls back to a
	// short life; a 401 makes the provider log in again anyway.
	if t.expiry.IsZero() || !t.expiry.After(now) || t.expiry.Sub(now) > 366*24*time.Hour {
		t.expiry = now.Add(time.Minute)
	}
	return t, nil
}

// jwtExp reads the exp claim (unix seconds) of a JWT without verifying it.
func jwtExp(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var c struct {
		Exp flexjson.Number `json:"exp"`
	}
	if json.Unmarshal(raw, &c) != nil || c.Exp <= 0 {
		return time.Time{}, false
	}
	return unixAny(float64(c.Exp)), true
}

// decodeCreate reads the 201 of POST /api/v1/account/api_key:
// {"ID","Name","Key","Secret"} (matched case-insensitively).
func decodeCreate(body []byte) (providers.Key, error) {
	var r struct {
		ID     flexjson.String `json:"id"`
		Name   string          `json:"name"`
		Key    string          `json:"key"`
		Secret string          `json:"secret"`
	}
	if err := unmarshal(body, &r); err != nil {
		return providers.Key{}, fmt.Errorf("create response: %w", err)
	}
	if r.ID == "" || r.Key == "" || r.Secret == "" {
		return providers.Key{}, errors.New("create response: ID, Key or Secret missing")
	}
	return providers.Key{
		KeyInfo:    providers.KeyInfo{ID: string(r.ID), Name: r.Name, Active: true},
		Credential: providers.Credential{"key": r.Key, "secret": r.Secret},
	}, nil
}

// keyJSON is a key as list and get return it.
type keyJSON struct {
	ID           flexjson.String `json:"id"`
	Name         string          `json:"name"`
	IsActive     *flexjson.Bool  `json:"is_active"`
	LastAccessed flexjson.Number `json:"last_accessed_at_utc"`
	Created      flexjson.Number `json:"created_at_utc"`
}

func (k keyJSON) info() providers.KeyInfo {
	return providers.KeyInfo{
		ID:         string(k.ID),
		Name:       k.Name,
		CreatedAt:  unixAny(float64(k.Created)),
		LastUsedAt: unixAny(float64(k.LastAccessed)),
		Active:     k.IsActive == nil || bool(*k.IsActive),
	}
}

// decodeKey reads GET /api/v1/account/api_key/:id.
func decodeKey(body []byte) (providers.KeyInfo, error) {
	var k keyJSON
	if err := unmarshal(body, &k); err != nil {
		return providers.KeyInfo{}, fmt.Errorf("get response: %w", err)
	}
	if k.ID == "" {
		return providers.KeyInfo{}, errors.New("get response: no id")
	}
	return k.info(), nil
}

// decodeError reads smtpd's error body {"code": 40102, "message": "..."}.
// It is the httpapi.ErrorDecoder of this provider.
func decodeError(status int, body []byte) (code, message string, retryAfter time.Duration) {
	var e struct {
		Code    flexjson.String `json:"code"`
		Message string          `json:"message"`
		Error   any             `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", "", 0
	}
	msg := e.Message
	if s, ok := e.Error.(string); ok && msg == "" {
		msg = s
	}
	return string(e.Code), msg, 0
}

// unmarshal decodes JSON with an error that does not quote the input.
func unmarshal(body []byte, v any) error {
	err := json.Unmarshal(body, v)
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("field %q: unexpected JSON %s", te.Field, te.Value)
	}
	// flexjson's errors are fixed texts without any input ("not a string
	// or number"): say which, rather than calling valid JSON invalid.
	return fmt.Errorf("unexpected JSON: %v", err)
}

// unixAny turns unix seconds (or milliseconds above 1e12) into a time; 0
// or less is the zero time.
func unixAny(v float64) time.Time {
	switch {
	case v <= 0 || v != v:
		return time.Time{}
	case v > 1e15:
		return time.Time{} // neither seconds nor milliseconds
	case v > 1e12:
		return time.UnixMilli(int64(v)).UTC()
	}
	return time.Unix(int64(v), 0).UTC()
}
