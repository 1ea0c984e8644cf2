package emailit

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rotator-dev/rotator/internal/providers/flexjson"
)

// Tolerant timestamps. Emailit documents integer ids and ISO-8601
// timestamps, but parts of its documentation and its SDK tests use
// prefixed string ids ("ak_123"), and a third-party client with production
// tests reports booleans as 0/1 or strings, numbers as strings and mixed
// date formats. flexTime accepts all the date forms and null; the other
// scalars are flexjson's.

// flexTime is a timestamp given as RFC 3339, "2006-01-02 15:04:05"
// (UTC), a date, unix seconds (milliseconds when too large to be seconds)
// as a number or a string, or null. Zero values ("", 0,
// "0000-00-00 00:00:00") mean no time.
type flexTime time.Time

// Time returns the time in UTC; zero when absent.
func (f flexTime) Time() time.Time { return time.Time(f) }

var timeLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z0700",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
	time.RFC1123,
	time.RFC1123Z,
}

func (f *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*f = flexTime{}
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		t, err := parseTime(s)
		if err != nil {
			return err
		}
		*f = flexTime(t)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return flexjson.Error("expected a timestamp")
	}
	t, err := unixTime(n.String())
	if err != nil {
		return err
	}
	*f = flexTime(t)
	return nil
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "0000-00-00") {
		return time.Time{}, nil
	}
	if s[0] >= '0' && s[0] <= '9' && !strings.ContainsAny(s, "-:/ ") {
		return unixTime(s)
	}
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, flexjson.Error("unrecognised timestamp format")
}

// unixTime reads seconds since the epoch, or milliseconds when the value
// is beyond year 5138 as seconds.
func unixTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n >= 0 {
		switch {
		case n == 0:
			return time.Time{}, nil
		case n < 1e11:
			return time.Unix(n, 0).UTC(), nil
		case n < 1e14:
			return time.UnixMilli(n).UTC(), nil
		}
		return time.Time{}, flexjson.Error("timestamp out of range")
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return time.Time{}, flexjson.Error("unrecognised timestamp format")
	}
	if v == 0 {
		return time.Time{}, nil
	}
	if v >= 1e11 {
		v /= 1000
	}
	if v >= 1e11 {
		return time.Time{}, flexjson.Error("timestamp out of range")
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// truncate shortens s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
