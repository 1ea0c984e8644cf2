package smtpdtest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// handleLogin is the password grant: Basic auth with a user login or an API
// key's key:secret, empty body.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request, now time.Time) {
	user, pass, ok := r.BasicAuth()
	if !ok {
		writeError(w, http.StatusUnauthorized, 40101, "Authorization header with Basic credentials required")
		return
	}
	var principal, name string
	var scope []string
	switch {
	case hmac.Equal([]byte(user), []byte(s.cfg.Username)) && hmac.Equal([]byte(pass), []byte(s.cfg.Password)):
		principal, name, scope = "", s.cfg.Username, []string{"admin"}
	default:
		k := s.keyByCredential(user, pass)
		if k == nil || !s.expireIdle(k, now) {
			writeError(w, http.StatusForbidden, 40102, "Username and password are incorrect")
			return
		}
		k.LastAccessedAt = now
		principal, name, scope = k.ID, k.Name, []string{k.Role}
		s.sessions[k.ID] = append(s.sessions[k.ID], session{ID: uuid(), AccountID: s.accountID,
			IPAddress: "127.0.0.1", UserAgent: r.UserAgent(), IsActive: true, CreatedAt: now.Unix(), Modified: now.Unix()})
	}
	// "Existing Refresh Tokens are expired when a new Grant Token is successful."
	for t, g := range s.refresh {
		if g.principal == principal {
			delete(s.refresh, t)
		}
	}
	s.issueTokens(w, principal, name, scope, now, now)
}

func (s *Server) issueTokens(w http.ResponseWriter, principal, name string, scope []string, granted, now time.Time) {
	exp := now.Add(s.cfg.TokenTTL)
	access := s.jwt(principal, name, exp)
	refresh := randomString(48)
	s.access[access] = &grant{principal: principal, expires: exp, granted: granted}
	s.refresh[refresh] = &grant{principal: principal, expires: granted.Add(RefreshTTL), granted: granted}
	s.issued = append(s.issued, access, refresh)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":    "bearer",
		"access_token":  access,
		"expires_at":    exp.UnixMilli(),
		"Scope":         scope,
		"refresh_token": refresh,
	})
}

func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request, now time.Time) {
	if !isJSON(r) {
		writeError(w, http.StatusBadRequest, 40000, "Content-Type must be application/json")
		return
	}
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.RefreshToken == "" {
		writeError(w, http.StatusBadRequest, 40000, "refresh_token is required")
		return
	}
	g, ok := s.refresh[body.RefreshToken]
	if !ok || !now.Before(g.expires) {
		writeError(w, http.StatusUnauthorized, 40106, "Refresh token is invalid")
		return
	}
	name, scope := s.cfg.Username, []string{"admin"}
	if g.principal != "" {
		k := s.keys[g.principal]
		if k == nil || !s.expireIdle(k, now) {
			writeError(w, http.StatusUnauthorized, 40106, "Refresh token is invalid")
			return
		}
		name, scope = k.Name, []string{k.Role}
	}
	delete(s.refresh, body.RefreshToken)
	s.issueTokens(w, g.principal, name, scope, g.granted, now)
}

// authenticate checks the Bearer token; it returns the principal ("" for
// the management user, else the key id).
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, now time.Time) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "bearer") || tok == "" {
		writeError(w, http.StatusUnauthorized, 40101, "Unauthorized")
		return "", false
	}
	g, ok := s.access[tok]
	if !ok {
		writeError(w, http.StatusUnauthorized, 40101, "Unauthorized")
		return "", false
	}
	if !now.Before(g.expires) {
		writeError(w, http.StatusUnauthorized, 40103, "Access token has expired")
		return "", false
	}
	if g.principal != "" {
		if k := s.keys[g.principal]; k == nil || !s.expireIdle(k, now) {
			writeError(w, http.StatusUnauthorized, 40101, "Unauthorized")
			return "", false
		}
	}
	return g.principal, true
}

// jwt makes a token shaped like the docs' example: HS256, claims
// account_id, exp (seconds), id, iss, name, scope, sub.
func (s *Server) jwt(principal, name string, exp time.Time) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	id := principal
	if id == "" {
		id = s.userID
	}
	claims, _ := json.Marshal(map[string]any{"account_id": s.accountID, "exp": exp.Unix(), "id": id,
		"is_account_verified": true, "iss": "SMTPD Inc", "name": name, "scope": []int{1}, "sub": name,
		"jti": randomString(8)})
	body := header + "." + enc.EncodeToString(claims)
	mac := hmac.New(sha256.New, s.signKey)
	mac.Write([]byte(body))
	return body + "." + enc.EncodeToString(mac.Sum(nil))
}
