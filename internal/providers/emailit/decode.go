package emailit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rotator-dev/rotator/internal/providers"
	"github.com/rotator-dev/rotator/internal/providers/flexjson"
)

// apiKeyObject is an API key as create, get, list items, update and delete
// return it. Key is present only in create's answer; Deleted only in
// delete's.
type apiKeyObject struct {
	Object          flexjson.String `json:"object"`
	ID              flexjson.ID     `json:"id"`
	Name            flexjson.String `json:"name"`
	Scope           flexjson.String `json:"scope"`
	SendingDomainID flexjson.ID     `json:"sending_domain_id"`
	LastUsedAt      flexTime        `json:"last_used_at"`
	CreatedAt       flexTime        `json:"created_at"`
	UpdatedAt       flexTime        `json:"updated_at"`
	Key             flexjson.String `json:"key"`
	Deleted         *flexjson.Bool  `json:"deleted"`
}

func (o apiKeyObject) info() providers.KeyInfo {
	return providers.KeyInfo{
		ID:         string(o.ID),
		Name:       string(o.Name),
		CreatedAt:  o.CreatedAt.Time(),
		LastUsedAt: o.LastUsedAt.Time(),
		Active:     true, // Emailit has no disabled state: a key that exists works
	}
}

var errNoID = errors.New("response has no key id")

// decodeKey reads a single API key object (create, get, delete). It also
// accepts the object wrapped in {"data": {...}}. The error never quotes the
// body, which for create holds the secret.
func decodeKey(body []byte) (apiKeyObject, error) {
	var o apiKeyObject
	if err := json.Unmarshal(body, &o); err != nil {
		return o, fmt.Errorf("decode api key: %w", jsonError(err))
	}
	if o.ID == "" {
		var wrapped struct {
			Data *apiKeyObject `json:"data"`
		}
		if json.Unmarshal(body, &wrapped) == nil && wrapped.Data != nil {
			o = *wrapped.Data
		}
	}
	if o.ID == "" {
		return o, errNoID
	}
	return o, nil
}

// listPage is one page of GET /v2/api-keys.
type listPage struct {
	Data []apiKeyObject `json:"data"`
	// NextPageURL is an absolute URL or a path; "" on the last page.
	NextPageURL flexjson.String `json:"next_page_url"`
}

// decodeList reads a list page: {"data": [...], "next_page_url": ...}.
func decodeList(body []byte) (listPage, error) {
	var p listPage
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		return p, fmt.Errorf("decode api key list: %w", jsonError(err))
	}
	if _, ok := probe["data"]; !ok {
		return p, errors.New("decode api key list: no data array")
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return p, fmt.Errorf("decode api key list: %w", jsonError(err))
	}
	for i, o := range p.Data {
		if o.ID == "" {
			return p, fmt.Errorf("decode api key list: item %d has no id", i)
		}
	}
	p.NextPageURL = flexjson.String(strings.TrimSpace(string(p.NextPageURL)))
	return p, nil
}

// jsonError drops the offending bytes that encoding/json may quote.
func jsonError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at offset %d", se.Offset)
	}
	var fe flexjson.Error
	if errors.As(err, &fe) {
		return fe
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return fmt.Errorf("field %q has unexpected type %s", te.Field, te.Value)
	}
	return errors.New("invalid JSON")
}

// errorBody is any of Emailit's error shapes:
//
//	{"statusCode":401,"error":"Unauthorized","message":"API key required"}
//	{"statusCode":400,"error":"Bad Request","message":"...","details":...}
//	{"error":{"code":404,"message":"API key not found"}}
//	{"error":{"code":409,...},"existing":{"object":"api_key","id":1,"name":"x"}}
//	{"error":"Rate limit exceeded","message":"...","limit":2,"current":2,"retry_after":1}
//	{"error":"plan_required",...}
type errorBody struct {
	Error      json.RawMessage `json:"error"`
	StatusCode flexjson.String `json:"statusCode"`
	Message    json.RawMessage `json:"message"`
	Details    json.RawMessage `json:"details"`
	RetryAfter json.RawMessage `json:"retry_after"`
}

type errorObject struct {
	Code    flexjson.String `json:"code"`
	Message json.RawMessage `json:"message"`
	Type    flexjson.String `json:"type"`
}

var codeLike = regexp.MustCompile(`^[a-z][a-z0-9]*([_.-][a-z0-9]+)+$|^[a-z]+$`)

// decodeError is the httpapi.ErrorDecoder for Emailit: it extracts the
// error code, a readable message (with anything that looks like a key
// redacted) and the body's retry_after. It accepts any body, JSON or not.
func decodeError(status int, body []byte) (code, message string, retryAfter time.Duration) {
	var e errorBody
	if err := json.Unmarshal(body, &e); err != nil {
		return "", plainText(body), 0
	}
	var parts []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		for _, p := range parts {
			if strings.EqualFold(p, s) {
				return
			}
		}
		if s != "" {
			parts = append(parts, s)
		}
	}
	if raw := bytes.TrimSpace(e.Error); len(raw) > 0 {
		switch raw[0] {
		case '"':
			var s string
			_ = json.Unmarshal(raw, &s)
			if codeLike.MatchString(s) && s != "error" {
				code = s
			} else {
				add(s)
			}
		case '{':
			var o errorObject
			if json.Unmarshal(raw, &o) == nil {
				code = strings.TrimSpace(string(o.Code))
				if code == "" {
					code = strings.TrimSpace(string(o.Type))
				}
				add(text(o.Message))
			}
		}
	}
	add(text(e.Message))
	msg := strings.Join(parts, ": ")
	if d := details(e.Details); d != "" {
		if msg != "" {
			msg += " "
		}
		msg += "(" + d + ")"
	}
	return clean(code, 64), clean(msg, maxMessage), retryAfterOf(e.RetryAfter)
}

// maxRetryAfter bounds a server's retry hint; a daily limit resets within a
// day.
const maxRetryAfter = 24 * time.Hour

func retryAfterOf(raw json.RawMessage) time.Duration {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" {
		return 0
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(v) || v <= 0 {
		return 0
	}
	if v > maxRetryAfter.Seconds() {
		return maxRetryAfter
	}
	return time.Duration(v * float64(time.Second))
}

// text reads a message that should be a string but may be anything.
func text(raw json.RawMessage) string {
	if s, ok := plain(raw); ok {
		return s
	}
	return compact(raw)
}

// plain reads raw when it is a JSON string, or absent or null (""); ok is
// false for any other JSON.
func plain(raw json.RawMessage) (s string, ok bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	return s, json.Unmarshal(raw, &s) == nil
}

// details summarises a validation error's details: a string, a list of
// {field, message} or of strings, or a map of field to message(s).
func details(raw json.RawMessage) string {
	if s, ok := plain(raw); ok {
		return s
	}
	raw = bytes.TrimSpace(raw)
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		var out []string
		for _, item := range list {
			var fe struct {
				Field   flexjson.String `json:"field"`
				Path    json.RawMessage `json:"path"`
				Message json.RawMessage `json:"message"`
			}
			if json.Unmarshal(item, &fe) == nil && (fe.Field != "" || len(fe.Message) > 0) {
				field := string(fe.Field)
				if field == "" {
					field = text(fe.Path)
				}
				if field != "" {
					out = append(out, field+": "+text(fe.Message))
				} else {
					out = append(out, text(fe.Message))
				}
				continue
			}
			out = append(out, text(item))
		}
		return strings.Join(out, "; ")
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) == nil {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var out []string
		for _, k := range keys {
			var msgs []json.RawMessage
			if json.Unmarshal(m[k], &msgs) == nil {
				var ms []string
				for _, x := range msgs {
					ms = append(ms, text(x))
				}
				out = append(out, k+": "+strings.Join(ms, ", "))
				continue
			}
			out = append(out, k+": "+text(m[k]))
		}
		return strings.Join(out, "; ")
	}
	return compact(raw)
}

func compact(raw json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		return string(raw)
	}
	return b.String()
}

// plainText is a short excerpt of a non-JSON body (an HTML error page from
// a proxy), or "" when it is not text.
func plainText(body []byte) string {
	if !utf8.Valid(body) {
		return ""
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	return clean(s, maxMessage)
}

// maxMessage bounds, in bytes, the work on a provider message. httpapi
// cuts the message to 300 bytes after removing the credentials it sent;
// cutting shorter here first could leave the beginning of one for it to
// miss.
const maxMessage = 4096

// secretPattern matches what Emailit keys look like, current ("secret_" +
// 32 alphanumerics) and older ("em_live_…", "em_test_…"), and bearer
// tokens: a service that echoes a key back must not put it in our logs.
var secretPattern = regexp.MustCompile(`(?i)secret_[A-Za-z0-9]{6,}|em_(live|test)_[A-Za-z0-9._\-]+|bearer\s+\S+`)

// clean redacts key-like strings, removes control characters and bounds
// the length of a message taken from a response.
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = secretPattern.ReplaceAllString(s, "<redacted>")
	s = strings.TrimSpace(s)
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
