package smtpdtest

import (
	"crypto/hmac"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

func (s *Server) handleAPI(w http.ResponseWriter, r *http.Request, op, id, principal string, now time.Time) {
	switch op {
	case OpMe:
		if principal == "" {
			writeJSON(w, http.StatusOK, map[string]any{"id": s.userID, "account_id": s.accountID,
				"email": s.cfg.Username, "role": "owner", "is_account_verified": true})
			return
		}
		k := s.keys[principal]
		writeJSON(w, http.StatusOK, map[string]any{"id": k.ID, "account_id": s.accountID, "name": k.Name, "role": k.Role})
		return
	case OpAccount:
		writeJSON(w, http.StatusOK, map[string]any{"id": s.accountID, "name": "Example Inc",
			"is_verified": true, "api_key_count": len(s.keys), "created_at_utc": 1627618270})
		return
	case OpLogout:
		var body struct {
			RefreshToken string `json:"refresh_token"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		if g, ok := s.refresh[body.RefreshToken]; ok && g.principal == principal {
			delete(s.refresh, body.RefreshToken)
		}
		w.WriteHeader(http.StatusOK)
		return
	}
	if principal != "" {
		writeError(w, http.StatusForbidden, 40301, "API keys cannot manage API keys")
		return
	}
	switch op {
	case OpCreate:
		s.handleCreate(w, r, now)
	case OpList:
		list := make([]map[string]any, 0, len(s.order))
		for _, kid := range s.order {
			k := s.keys[kid]
			s.expireIdle(k, now)
			list = append(list, keyJSON(k))
		}
		writeJSON(w, http.StatusOK, list)
	case OpGet, OpRevoke, OpSessions:
		k, ok := s.keys[id]
		if !ok {
			writeError(w, http.StatusNotFound, 40410, "resource not found")
			return
		}
		active := s.expireIdle(k, now)
		switch op {
		case OpGet:
			writeJSON(w, http.StatusOK, keyJSON(k))
		case OpSessions:
			out := s.sessions[k.ID]
			if out == nil {
				out = []session{}
			}
			writeJSON(w, http.StatusOK, out)
		case OpRevoke:
			if !active {
				writeError(w, http.StatusBadRequest, 40011, "API key is already revoked")
				return
			}
			k.Active, k.ModifiedAt = false, now
			for t, g := range s.access {
				if g.principal == k.ID {
					delete(s.access, t)
				}
			}
			w.WriteHeader(http.StatusOK)
		}
	}
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, now time.Time) {
	if !isJSON(r) {
		writeError(w, http.StatusBadRequest, 40000, "Content-Type must be application/json")
		return
	}
	var body struct {
		Name *string `json:"name"`
		Role *string `json:"role"`
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, 40000, "Request body is not valid JSON")
		return
	}
	if body.Name == nil || strings.TrimSpace(*body.Name) == "" {
		writeError(w, http.StatusBadRequest, 40001, "name is required")
		return
	}
	if body.Role == nil || !validRole(*body.Role) {
		writeError(w, http.StatusBadRequest, 40002, "role must be one of iac, standard, read_only, send_only")
		return
	}
	k := &KeyRecord{
		ID: uuid(), AccountID: s.accountID, Name: *body.Name, Role: *body.Role,
		Key: keyString(false), Secret: keyString(true), Active: true, CreatedAt: now, ModifiedAt: now,
	}
	s.keys[k.ID] = k
	s.order = append(s.order, k.ID)
	s.issued = append(s.issued, k.Key, k.Secret)
	if s.DropCreate(w) {
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"ID": k.ID, "Name": k.Name, "Key": k.Key, "Secret": k.Secret})
}

// expireIdle applies the inactivity revocation and reports whether k is
// active at now.
func (s *Server) expireIdle(k *KeyRecord, now time.Time) bool {
	if !k.Active {
		return false
	}
	last := k.LastAccessedAt
	if last.IsZero() {
		last = k.CreatedAt
	}
	if now.Sub(last) >= s.cfg.InactivityAfter {
		k.Active = false
		k.ModifiedAt = last.Add(s.cfg.InactivityAfter)
	}
	return k.Active
}

func (s *Server) keyByCredential(key, secret string) *KeyRecord {
	if key == "" || secret == "" {
		return nil
	}
	for _, k := range s.keys {
		if hmac.Equal([]byte(k.Key), []byte(key)) && hmac.Equal([]byte(k.Secret), []byte(secret)) {
			return k
		}
	}
	return nil
}

func keyJSON(k *KeyRecord) map[string]any {
	var last int64
	if !k.LastAccessedAt.IsZero() {
		last = k.LastAccessedAt.Unix()
	}
	return map[string]any{
		"id": k.ID, "account_id": k.AccountID, "name": k.Name, "key": k.Key, "is_active": k.Active,
		"last_accessed_at_utc": last, "created_at_utc": k.CreatedAt.Unix(), "modified_at_utc": k.ModifiedAt.Unix(),
	}
}

func validRole(r string) bool {
	for _, v := range Roles {
		if v == r {
			return true
		}
	}
	return false
}
