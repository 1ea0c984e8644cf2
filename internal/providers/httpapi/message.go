package httpapi

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The longest provider error code and message an error keeps, in bytes.
const (
	maxCode    = 64
	maxMessage = 300
)

// minSecret is the shortest secret that Scrub and CleanText look for:
// shorter strings occur in ordinary text.
const minSecret = 4

// CleanText makes text taken from a provider's response (an error code or
// message) safe to log, store and print: control characters (C0, DEL, C1,
// and bidirectional overrides, which move or recolour a terminal's text)
// become spaces; every secret is replaced with "<redacted>" (before and
// after, in case a secret holds such a character); then the
// text is cut to max bytes on a rune boundary, and a cut that leaves the
// beginning of a secret at the end drops it. Scrubbing before cutting
// matters: a secret cut in two is no longer found.
func CleanText(s string, max int, secrets []string) string {
	s = Scrub(strings.ToValidUTF8(s, ""), secrets)
	s = strings.Map(func(r rune) rune {
		if isControl(r) {
			return ' '
		}
		return r
	}, s)
	s = Scrub(s, secrets)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return dropSecretPrefix(s[:cut], secrets) + "…"
}

func isControl(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || unicode.Is(unicode.Bidi_Control, r)
}

// dropSecretPrefix removes the longest tail of s that is the beginning of
// one of the secrets.
func dropSecretPrefix(s string, secrets []string) string {
	drop := 0
	for _, sec := range secrets {
		if len(sec) < minSecret {
			continue
		}
		for n := min(len(sec)-1, len(s)); n > drop; n-- {
			if strings.HasSuffix(s, sec[:n]) {
				drop = n
				break
			}
		}
	}
	return s[:len(s)-drop]
}

// Scrub replaces every occurrence of each secret (of 4 characters or
// more) in s with "<redacted>".
func Scrub(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= minSecret && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "<redacted>")
		}
	}
	return s
}
