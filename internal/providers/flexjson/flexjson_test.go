package flexjson

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestScalars(t *testing.T) {
	var b Bool
	for in, want := range map[string]bool{`true`: true, `false`: false, `1`: true, `0`: false, `"1"`: true, `"0"`: false, `"true"`: true, `"no"`: false, `null`: false, `2`: true} {
		if err := json.Unmarshal([]byte(in), &b); err != nil || bool(b) != want {
			t.Errorf("Bool(%s) = %v, %v; want %v", in, b, err, want)
		}
	}
	var id ID
	for in, want := range map[string]string{`1234567890`: "1234567890", `"ak_1"`: "ak_1", `1.0`: "1", `1e3`: "1000", `null`: "", `" 7 "`: "7"} {
		if err := json.Unmarshal([]byte(in), &id); err != nil || string(id) != want {
			t.Errorf("ID(%s) = %q, %v; want %q", in, id, err, want)
		}
	}
	if err := json.Unmarshal([]byte(`true`), &id); err == nil {
		t.Error("ID accepted a boolean")
	}
	var s String
	for in, want := range map[string]string{`"x"`: "x", `12`: "12", `null`: ""} {
		if err := json.Unmarshal([]byte(in), &s); err != nil || string(s) != want {
			t.Errorf("String(%s) = %q, %v; want %q", in, s, err, want)
		}
	}
	var n Number
	for in, want := range map[string]float64{`12.5`: 12.5, `"7"`: 7, `null`: 0, `""`: 0} {
		if err := json.Unmarshal([]byte(in), &n); err != nil || float64(n) != want {
			t.Errorf("Number(%s) = %v, %v; want %v", in, n, err, want)
		}
	}
	// Errors never quote the value.
	for in, v := range map[string]any{`{"k":"secret_abc"}`: &s, `"secret_abc"`: &n, `["secret_abc"]`: &id, `"secret_abc!"`: new(Bool)} {
		err := json.Unmarshal([]byte(in), v)
		if err == nil || strings.Contains(err.Error(), "secret_abc") {
			t.Errorf("%s into %T: error %v", in, v, err)
		}
	}
}
