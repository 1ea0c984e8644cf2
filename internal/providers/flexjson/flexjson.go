// Package flexjson holds tolerant JSON scalars for decoding providers'
// responses, which disagree with their own documentation: ids as numbers
// or strings, numbers as strings, booleans as 0/1 or words, and null for
// any of them. None of its errors quotes the value: a misplaced secret
// must not reach an error.
package flexjson

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Error is a value that none of the tolerated forms fits. It never
// quotes the value: a misplaced secret must not reach an error.
type Error string

func (e Error) Error() string { return string(e) }

// ID is an id given as a JSON number or string, kept as a string.
type ID string

func (f *ID) UnmarshalJSON(b []byte) error {
	s, n, err := stringOrNumber(b, "an id must be a number or a string")
	if n != nil {
		s = normalizeNumber(*n)
	}
	*f = ID(strings.TrimSpace(s))
	return err
}

// stringOrNumber decodes null, a JSON string or a JSON number; n is set
// for a number. msg is the error for anything else (it never quotes the
// value).
func stringOrNumber(b []byte, msg string) (s string, n *json.Number, err error) {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		return "", nil, nil
	case len(b) > 0 && b[0] == '"':
		err = json.Unmarshal(b, &s)
		return s, nil, err
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return "", nil, Error(msg)
	}
	return "", &num, nil
}

// normalizeNumber writes an integral number without exponent or fraction
// (1.23456789e9 and 1234567890.0 become "1234567890").
func normalizeNumber(n json.Number) string {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") {
		return s
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != math.Trunc(v) || math.Abs(v) >= 1<<53 {
		return s
	}
	return strconv.FormatInt(int64(v), 10)
}

// String is a string that may arrive as a number.
type String string

func (f *String) UnmarshalJSON(b []byte) error {
	s, n, err := stringOrNumber(b, "not a string or number")
	if n != nil {
		s = n.String()
	}
	*f = String(s)
	return err
}

// Bool is a boolean given as true/false, 0/1, or a string of either
// (also "yes"/"no"); null is false.
type Bool bool

func (f *Bool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "1", "yes", "y", "on":
		*f = true
	case "false", "0", "no", "n", "off", "", "null":
		*f = false
	default:
		if v, err := strconv.ParseFloat(s, 64); err == nil {
			*f = v != 0
			return nil
		}
		return Error("expected a boolean")
	}
	return nil
}

// Number is a number given as a JSON number or a numeric string; null and
// "" are 0.
type Number float64

func (n *Number) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(strings.Trim(string(bytes.TrimSpace(b)), `"`))
	if s == "null" || s == "" {
		*n = 0
		return nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return Error("expected a number")
	}
	*n = Number(f)
	return nil
}
