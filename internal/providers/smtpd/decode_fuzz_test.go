package smtpd

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Seeds are the documented examples (docs.smtpd.dev api/authentication and
// api/account/api-keys), the SDK's token shape, and edge cases.
var (
	docToken  = `{"token_type":"bearer","access_token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhY2NvdW50X2lkIjoiMzUxMzI2ODUiLCJleHAiOjE3MTI1MzEyOTMsImlzcyI6IlNNVFBEIEluYyJ9.c2ln","expires_at":1712531293539,"Scope":["admin"],"refresh_token":"8b4f0c1d"}`
	sdkToken  = `{"token_type":"bearer","access_token":"abc.def.ghi","expires_in":3600,"scope":["admin"],"refresh_token":"r"}`
	docCreate = `{"ID":"ad75ae9c-f133-11eb-ab65-0a58a9feaca0","Name":"PROD - Datadog","Key":"ty5davhlalixzn7+2+4l9yemuxdprs8m2ue45vtxsot/zjngii1ptlrzxleceojvxos423om1zsu0apx6wmira==/1w2fsrgv7mayczileqw5svnduj3","Secret":"lloIT4+/3636UvGI2dTm20DH/V9cdFpzHNcET142I32sKVmZV95xnYkVD7CZT7XhoHnQmYS7n/EE7DQmZMv7eoa+k+E/HVXXbjqmB3OFMccSJxboO17wiokvZGgr7Hsdw3LAwrWeYtdAHwzpFB/73JCg7mJ5Ln5ntzfKB1v10dY=/1w2FsQmMFMtP4h1x8lMjhoEwYv8"}`
	docKey    = `{"id":"055e24ae-f132-11eb-a5ac-0a58a9feec2b","account_id":"35132685-7dcf-4b2a-8c88-88ccf4848925","name":"Staging - AWS","key":"oqzedt51ibrwg5u2tgoanah1eulilowfj3+hcjlydywquze647c8jvyrqvx5ykeivttzo3ulxaa2a3/gecc08w==/1w2eqx3nkawstmkzct7zk7c5uyw","is_active":true,"last_accessed_at_utc":1827618270,"created_at_utc":1627618270,"modified_at_utc":1627618270}`
	docList   = `[` + docKey + `,{"id":"ad75aea0-f133-11eb-ab65-0a58a9feaca0","account_id":"35132685-7dcf-4b2a-8c88-88ccf4848925","name":"PROD - Datadog","key":"ty5d+/==","is_active":true,"last_accessed_at_utc":1827618270,"created_at_utc":1627642982,"modified_at_utc":1627642982}]`
	docError  = `{"code": 40102, "message": "Username and password are incorrect"}`
)

var fuzzNow = time.Date(2024, 4, 7, 22, 0, 0, 0, time.UTC)

var fieldName = regexp.MustCompile(`field "[^"]*"`)

// noEcho fails when an error quotes a sizeable piece of the body.
func noEcho(t *testing.T, body []byte, err error) {
	t.Helper()
	if err == nil || len(body) < 12 {
		return
	}
	// field names come from our struct tags, not from the body
	msg := fieldName.ReplaceAllString(err.Error(), "")
	for i := 0; i+12 <= len(body); i += 6 {
		if strings.Contains(msg, string(body[i:i+12])) {
			t.Fatalf("error %q quotes the body", msg)
		}
	}
}

func TestDecodeDocExamples(t *testing.T) {
	tok, err := decodeToken([]byte(docToken), fuzzNow)
	if err != nil || tok.refresh != "8b4f0c1d" || !tok.expiry.Equal(time.UnixMilli(1712531293539)) {
		t.Fatalf("doc token: %+v %v", tok.expiry, err)
	}
	tok, err = decodeToken([]byte(sdkToken), fuzzNow)
	if err != nil || !tok.expiry.Equal(fuzzNow.Add(time.Hour)) {
		t.Fatalf("sdk token: %v %v", tok.expiry, err)
	}
	// expires_at in seconds, and no expiry at all but a JWT exp
	tok, _ = decodeToken([]byte(`{"access_token":"x","expires_at":1712531293}`), fuzzNow)
	if !tok.expiry.Equal(time.Unix(1712531293, 0)) {
		t.Fatalf("expires_at seconds: %v", tok.expiry)
	}
	tok, _ = decodeToken([]byte(`{"access_token":"eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3MTI1MzEyOTN9.c2ln"}`), fuzzNow)
	if !tok.expiry.Equal(time.Unix(1712531293, 0)) {
		t.Fatalf("jwt exp: %v", tok.expiry)
	}
	key, err := decodeCreate([]byte(docCreate))
	if err != nil || key.ID != "ad75ae9c-f133-11eb-ab65-0a58a9feaca0" || !strings.HasPrefix(key.Credential["secret"], "lloIT4+/") {
		t.Fatalf("doc create: %v", err)
	}
	list, err := decodeListStream(strings.NewReader(docList), "", 100)
	if err != nil || len(list) != 2 || list[0].Name != "Staging - AWS" || !list[0].Active ||
		!list[0].CreatedAt.Equal(time.Unix(1627618270, 0)) || !list[0].LastUsedAt.Equal(time.Unix(1827618270, 0)) {
		t.Fatalf("doc list: %+v %v", list, err)
	}
	info, err := decodeKey([]byte(`{"id":7,"name":"n","is_active":0,"last_accessed_at_utc":null,"created_at_utc":"1627618270"}`))
	if err != nil || info.ID != "7" || info.Active || !info.LastUsedAt.IsZero() || info.CreatedAt.IsZero() {
		t.Fatalf("tolerant key: %+v %v", info, err)
	}
	code, msg, _ := decodeError(403, []byte(docError))
	if code != "40102" || msg != "Username and password are incorrect" {
		t.Fatalf("doc error: %q %q", code, msg)
	}
}

func FuzzDecodeToken(f *testing.F) {
	for _, s := range []string{docToken, sdkToken, `{"access_token":"a.b.c"}`, `{"access_token":"x","expires_at":"1e13"}`, `null`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		tok, err := decodeToken(body, fuzzNow)
		noEcho(t, body, err)
		if err == nil && (tok.access == "" || !tok.expiry.After(fuzzNow)) {
			t.Fatalf("accepted a token without access or a future expiry: %v", tok.expiry)
		}
	})
}

func FuzzDecodeCreate(f *testing.F) {
	for _, s := range []string{docCreate, `{"id":1,"key":"k","secret":"s"}`, `{"ID":null}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		key, err := decodeCreate(body)
		noEcho(t, body, err)
		if err == nil && (key.ID == "" || key.Credential["key"] == "" || key.Credential["secret"] == "") {
			t.Fatal("accepted a create response without id, key or secret")
		}
	})
}

func FuzzDecodeList(f *testing.F) {
	for _, s := range []string{docList, `[]`, `{"data":[` + docKey + `]}`, `[{"id":""}]`, `[{"id":1,"is_active":"1"}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		list, err := decodeListStream(bytes.NewReader(body), "", 1<<20)
		noEcho(t, body, err)
		for _, k := range list {
			if k.ID == "" {
				t.Fatal("accepted a key without id")
			}
		}
	})
}

func FuzzDecodeKey(f *testing.F) {
	for _, s := range []string{docKey, `{"id":"x","is_active":false}`, `{"id":"x","created_at_utc":1712531293539}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		info, err := decodeKey(body)
		noEcho(t, body, err)
		if err == nil && info.ID == "" {
			t.Fatal("accepted a key without id")
		}
	})
}

func FuzzDecodeError(f *testing.F) {
	for _, s := range []string{docError, `{"code":40410,"message":"resource not found"}`, `{"code":"40106","message":"Refresh token is invalid"}`, `{"error":"x"}`, `<html>`} {
		f.Add(403, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		_, _, retry := decodeError(status, body)
		if retry != 0 {
			t.Fatal("smtpd sends no retry hint")
		}
	})
}
