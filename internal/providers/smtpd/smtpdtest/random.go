package smtpdtest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// keyString makes a key or secret shaped like the docs' examples: base64
// with '+', '/' and '=' and a "/1w2…" suffix.
func keyString(mixedCase bool) string {
	b := base64.StdEncoding.EncodeToString(randomBytes(64)) // 88 chars, ends "=="
	if !mixedCase {
		b = strings.ToLower(b)
	}
	return b[:10] + "+" + b[10:30] + "/" + b[30:] + "/1w2" + randomString(20)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

func randomString(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := randomBytes(n)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func uuid() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
