package emailittest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds request bodies.
const maxBody = 1 << 20

// caller is the authenticated key of a request.
type handlerFunc func(w http.ResponseWriter, r *http.Request, body []byte, caller *KeyRecord)

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v2/api-keys", s.handle(OpCreate, true, s.create))
	mux.HandleFunc("GET /v2/api-keys", s.handle(OpList, true, s.list))
	mux.HandleFunc("GET /v2/api-keys/{id}", s.handle(OpGet, true, s.get))
	mux.HandleFunc("POST /v2/api-keys/{id}", s.handle(OpUpdate, true, s.update))
	mux.HandleFunc("DELETE /v2/api-keys/{id}", s.handle(OpDelete, true, s.delete))
	mux.HandleFunc("POST /v2/emails", s.handle(OpSend, false, s.send))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		requestError(w, http.StatusNotFound, "Route "+r.Method+" "+r.URL.Path+" not found", nil)
	})
	return mux
}

// handle runs the steps every endpoint shares, in the service's order:
// latency, injected faults, authentication, scope, the workspace rate
// limit, then the endpoint with the server's lock held. manage marks
// endpoints that need a full-scope key.
func (s *Server) handle(op string, manage bool, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return
		}
		if s.Intercept(w, r, op) {
			return
		}

		s.mu.Lock()
		defer s.mu.Unlock()
		if status, ok := s.Fail(op); ok {
			if status == http.StatusTooManyRequests {
				s.rateLimited++
			}
			injectedError(w, status)
			return
		}
		if len(body) > maxBody {
			requestError(w, http.StatusRequestEntityTooLarge, "Request body too large", nil)
			return
		}
		caller := s.authenticate(w, r, body)
		if caller == nil {
			return
		}
		if manage && caller.Scope != "full" || !manage && caller.Scope == "events" {
			requestError(w, http.StatusForbidden,
				"This API key does not have permission to access this resource ("+caller.Scope+" scope)", nil)
			return
		}
		now := s.clock.Now().UTC()
		if s.window != nil {
			if ok, current, wait := s.window.admit(now); !ok {
				s.rateLimited++
				rateLimitError(w, s.window.limit, current, wait)
				return
			}
		}
		caller.LastUsedAt = now.Truncate(time.Second)
		h(w, r, body, caller)
	}
}

// authenticate accepts only "Authorization: Bearer <key>"; the API "doesn't
// accept keys in the query string or request body".
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, body []byte) *KeyRecord {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		if keyElsewhere(r, body) {
			requestError(w, http.StatusUnauthorized,
				"API keys are accepted only in the Authorization header (Bearer)", nil)
			return nil
		}
		requestError(w, http.StatusUnauthorized, "API key required", nil)
		return nil
	}
	scheme, token, _ := strings.Cut(auth, " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		requestError(w, http.StatusUnauthorized, "Invalid authorization header: use Bearer <API key>", nil)
		return nil
	}
	k := s.bySecret(strings.TrimSpace(token))
	if k == nil {
		requestError(w, http.StatusUnauthorized, "Invalid API key", nil)
		return nil
	}
	return k
}

func keyElsewhere(r *http.Request, body []byte) bool {
	for _, p := range []string{"api_key", "apiKey", "key", "token", "access_token"} {
		if r.URL.Query().Has(p) {
			return true
		}
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) == nil {
		for _, p := range []string{"api_key", "apiKey", "token", "access_token"} {
			if _, ok := m[p]; ok {
				return true
			}
		}
	}
	return false
}

// fieldError is one entry of a validation error's details.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func validationError(w http.ResponseWriter, field, message string) {
	requestError(w, http.StatusBadRequest, "Validation failed", []fieldError{{Field: field, Message: message}})
}

// decodeBody reads a JSON object; it answers 400 itself when it cannot.
func decodeBody(w http.ResponseWriter, body []byte) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&m); err != nil || m == nil {
		requestError(w, http.StatusBadRequest, "Invalid JSON body", nil)
		return nil, false
	}
	return m, true
}

// stringField returns a string field; present is false for absent or null.
func stringField(m map[string]json.RawMessage, name string) (v string, present, ok bool) {
	raw, has := m[name]
	if !has || string(raw) == "null" {
		return "", false, true
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", true, false
	}
	return v, true, true
}

var scopes = map[string]bool{"full": true, "sending": true, "events": true}

// create is POST /v2/api-keys: {name, scope, sending_domain_id} → 201 with
// the one-time key.
func (s *Server) create(w http.ResponseWriter, r *http.Request, body []byte, _ *KeyRecord) {
	m, ok := decodeBody(w, body)
	if !ok {
		return
	}
	name, present, ok := stringField(m, "name")
	switch {
	case !ok:
		validationError(w, "name", "The name field must be a string.")
		return
	case !present || strings.TrimSpace(name) == "":
		validationError(w, "name", "The name field is required.")
		return
	case len(name) > 255:
		validationError(w, "name", "The name field must not be greater than 255 characters.")
		return
	}
	scope, present, ok := stringField(m, "scope")
	if !present && ok {
		scope = "full"
	}
	if !ok || !scopes[scope] {
		validationError(w, "scope", "The selected scope is invalid. Allowed: full, sending, events.")
		return
	}
	domain := ""
	if raw, has := m["sending_domain_id"]; has && string(raw) != "null" {
		var n json.Number
		var str string
		switch {
		case json.Unmarshal(raw, &str) == nil && str != "":
			domain = str
		case json.Unmarshal(raw, &n) == nil:
			if _, err := strconv.ParseInt(n.String(), 10, 64); err != nil {
				validationError(w, "sending_domain_id", "The sending domain id must be an integer or a domain id.")
				return
			}
			domain = n.String()
		default:
			validationError(w, "sending_domain_id", "The sending domain id must be an integer or a domain id.")
			return
		}
	}
	if scope == "full" {
		domain = "" // "ignored for full keys"
	}
	if k := s.byName(name); k != nil {
		endpointError(w, http.StatusConflict, "API key already exists", map[string]any{
			"existing": map[string]any{"object": "api_key", "id": s.id(k.ID), "name": k.Name},
		})
		return
	}
	k := s.addKey(name, scope, domain, NewSecret())
	if s.DropCreate(w) {
		return
	}
	out := s.render(k, true)
	out["key"] = k.Key
	writeJSON(w, http.StatusCreated, out)
}

// list is GET /v2/api-keys?page=&limit=.
func (s *Server) list(w http.ResponseWriter, r *http.Request, _ []byte, _ *KeyRecord) {
	q := r.URL.Query()
	page, limit := 1, 10
	if v := q.Get("page"); q.Has("page") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			validationError(w, "page", "The page must be an integer of at least 1.")
			return
		}
		page = n
	}
	if v := q.Get("limit"); q.Has("limit") {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100 {
			validationError(w, "limit", "The limit must be an integer between 1 and 100.")
			return
		}
		limit = n
	}
	ids := s.order
	data := []map[string]any{}
	start := (page - 1) * limit
	for i := start; i < len(ids) && i < start+limit; i++ {
		data = append(data, s.render(s.keys[ids[i]], false))
	}
	var next, prev any
	if start+limit < len(ids) {
		next = s.pageURL(page+1, limit)
	}
	if page > 1 {
		prev = s.pageURL(page-1, limit)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "next_page_url": next, "previous_page_url": prev})
}

func (s *Server) pageURL(page, limit int) string {
	p := fmt.Sprintf("/v2/api-keys?page=%d&limit=%d", page, limit)
	if s.cfg.PageURLStyle == PageURLPath {
		return p
	}
	return s.srv.URL + p
}

// get is GET /v2/api-keys/{id}.
func (s *Server) get(w http.ResponseWriter, r *http.Request, _ []byte, _ *KeyRecord) {
	k, ok := s.keys[r.PathValue("id")]
	if !ok {
		endpointError(w, http.StatusNotFound, "API key not found", nil)
		return
	}
	writeJSON(w, http.StatusOK, s.render(k, true))
}

// update is POST /v2/api-keys/{id}: {name}; the scope cannot change.
func (s *Server) update(w http.ResponseWriter, r *http.Request, body []byte, _ *KeyRecord) {
	k, ok := s.keys[r.PathValue("id")]
	if !ok {
		endpointError(w, http.StatusNotFound, "API key not found", nil)
		return
	}
	m, ok := decodeBody(w, body)
	if !ok {
		return
	}
	if scope, present, _ := stringField(m, "scope"); present && scope != k.Scope {
		validationError(w, "scope", "The scope of an API key cannot be changed.")
		return
	}
	name, present, ok := stringField(m, "name")
	if !ok || !present || strings.TrimSpace(name) == "" {
		validationError(w, "name", "The name field is required.")
		return
	}
	if other := s.byName(name); other != nil && other != k {
		endpointError(w, http.StatusConflict, "API key name already exists", nil)
		return
	}
	k.Name = name
	k.UpdatedAt = s.clock.Now().UTC().Truncate(time.Second)
	writeJSON(w, http.StatusOK, s.render(k, true))
}

// delete is DELETE /v2/api-keys/{id} → {object, id, name, deleted: true}.
func (s *Server) delete(w http.ResponseWriter, r *http.Request, _ []byte, _ *KeyRecord) {
	k := s.deleteLocked(r.PathValue("id"))
	if k == nil {
		endpointError(w, http.StatusNotFound, "API key not found", nil)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "api_key", "id": s.id(k.ID), "name": k.Name,
		"deleted": s.boolean(true)})
}

// send is a minimal POST /v2/emails, the kind of endpoint a sending key may
// call: it checks from, to and subject and accepts the e-mail.
func (s *Server) send(w http.ResponseWriter, _ *http.Request, body []byte, _ *KeyRecord) {
	m, ok := decodeBody(w, body)
	if !ok {
		return
	}
	for _, f := range []string{"from", "to", "subject"} {
		if _, has := m[f]; !has {
			validationError(w, f, "The "+f+" field is required.")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"object": "email", "id": "em_" + randomAlnum(24), "status": "pending"})
}
