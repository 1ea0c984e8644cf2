package emailittest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// The error body shapes of Emailit's API documentation.

// requestError is raised before an endpoint runs (authentication,
// permission, malformed JSON, validation):
// {"statusCode":401,"error":"Unauthorized","message":"API key required"}.
func requestError(w http.ResponseWriter, status int, message string, details any) {
	body := map[string]any{"statusCode": status, "error": http.StatusText(status), "message": message}
	if details != nil {
		body["details"] = details
	}
	writeJSON(w, status, body)
}

// endpointError is raised by an endpoint:
// {"error":{"code":404,"message":"API key not found"}}.
func endpointError(w http.ResponseWriter, status int, message string, extra map[string]any) {
	body := map[string]any{"error": map[string]any{"code": status, "message": message}}
	for k, v := range extra {
		body[k] = v
	}
	writeJSON(w, status, body)
}

// rateLimitError is the documented 429:
// {"error":"Rate limit exceeded","message":...,"limit":2,"current":2,"retry_after":1}
// with a Retry-After header in whole seconds.
func rateLimitError(w http.ResponseWriter, limit, current int, wait time.Duration) {
	secs := int((wait + time.Second - 1) / time.Second)
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"error":       "Rate limit exceeded",
		"message":     "Too many requests. Limit: " + strconv.Itoa(limit) + " requests per second.",
		"limit":       limit,
		"current":     current,
		"retry_after": secs,
	})
}

// injectedError answers a FailNext status in the shape Emailit uses for it.
func injectedError(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusTooManyRequests:
		rateLimitError(w, 2, 2, time.Second)
	case http.StatusUnauthorized, http.StatusForbidden:
		requestError(w, status, http.StatusText(status), nil)
	default:
		endpointError(w, status, http.StatusText(status), nil)
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// render is a key as the API shows it: the documented object, without the
// secret (create adds it).
func (s *Server) render(k *KeyRecord, withObject bool) map[string]any {
	m := map[string]any{
		"id":                s.id(k.ID),
		"name":              k.Name,
		"scope":             k.Scope,
		"sending_domain_id": s.domainID(k.SendingDomainID),
		"last_used_at":      s.timestamp(k.LastUsedAt),
		"created_at":        s.timestamp(k.CreatedAt),
		"updated_at":        s.timestamp(k.UpdatedAt),
	}
	if withObject {
		m["object"] = "api_key"
	}
	return m
}

// id is an integer id as a JSON number, or as a string when Quirky.
func (s *Server) id(id string) any {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && !s.cfg.Quirky {
		return n
	}
	return id
}

func (s *Server) domainID(d string) any {
	if d == "" {
		return nil
	}
	return s.id(d)
}

// timestamp is RFC 3339 in UTC (the documented form); when Quirky it is
// "2006-01-02 15:04:05" for even seconds and unix seconds for odd ones.
func (s *Server) timestamp(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	if s.cfg.Quirky {
		if t.Unix()%2 == 0 {
			return t.Format(time.DateTime)
		}
		return t.Unix()
	}
	return t.Format(time.RFC3339)
}

// boolean is true/false, or 1/0 when Quirky.
func (s *Server) boolean(b bool) any {
	if !s.cfg.Quirky {
		return b
	}
	if b {
		return 1
	}
	return 0
}
