package file

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/rotator-dev/rotator/internal/sinks"
)

// encode renders data in the format. The output is deterministic (names
// sorted) so that rewriting the same data gives the same bytes. Errors name
// the offending field, never its value.
func encode(f Format, data sinks.Secret) ([]byte, error) {
	if f == FormatEnv {
		return encodeEnv(data)
	}
	return encodeJSON(data)
}

// decode parses what encode wrote. Errors never quote the content.
func decode(f Format, b []byte) (sinks.Secret, error) {
	if f == FormatEnv {
		return decodeEnv(b)
	}
	return decodeJSON(b)
}

func encodeJSON(data sinks.Secret) ([]byte, error) {
	if _, ok := data[MarkerField]; ok {
		return nil, fmt.Errorf("field %q is rotator's ownership marker in a json file: rename the field with the target's fields", MarkerField)
	}
	for _, name := range sortedNames(data) {
		if !utf8.ValidString(name) {
			return nil, errors.New("a field name is not valid UTF-8")
		}
		if !utf8.ValidString(data[name]) {
			return nil, fmt.Errorf("field %q: value is not valid UTF-8, which json cannot hold (use format: env)", name)
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	marked := make(map[string]string, len(data)+1)
	for k, v := range data {
		marked[k] = v
	}
	marked[MarkerField] = markerValue
	if err := enc.Encode(marked); err != nil {
		return nil, errors.New("encode json")
	}
	return buf.Bytes(), nil
}

func decodeJSON(b []byte) (sinks.Secret, error) {
	var m map[string]string
	if err := json.Unmarshal(b, &m); err != nil {
		// json's messages can quote a character of the content.
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("parse json: syntax error at offset %d", se.Offset)
		}
		return nil, errors.New("parse json: not an object of string values")
	}
	if m == nil {
		return nil, errors.New("parse json: not an object of string values")
	}
	delete(m, MarkerField)
	return sinks.Secret(m), nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// envPlain are the bytes a value may hold and stay unquoted.
func envPlain(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		strings.IndexByte("_-.,/:@%+=", c) >= 0
}

// encodeEnv writes the marker line, then NAME=value lines sorted by name. A value made only of
// envPlain bytes is written as is; any other is single-quoted as POSIX sh
// does (a single quote inside ends the quoted run, is written escaped with
// a backslash, and a new run starts). Any byte string but NUL (which an
// environment variable cannot hold) round-trips through decodeEnv and
// through sh.
func encodeEnv(data sinks.Secret) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(envMarker)
	for _, name := range sortedNames(data) {
		if !envName.MatchString(name) {
			return nil, fmt.Errorf("field %q is not a valid environment variable name (letters, digits, _; not starting with a digit): rename it with the target's fields", name)
		}
		v := data[name]
		if strings.IndexByte(v, 0) >= 0 {
			return nil, fmt.Errorf("field %q: value holds a NUL byte, which an environment variable cannot", name)
		}
		b.WriteString(name)
		b.WriteByte('=')
		plain := v != ""
		for i := 0; i < len(v) && plain; i++ {
			plain = envPlain(v[i])
		}
		if plain {
			b.WriteString(v)
		} else {
			b.WriteByte('\'')
			b.WriteString(strings.ReplaceAll(v, "'", `'\''`))
			b.WriteByte('\'')
		}
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// decodeEnv parses the syntax encodeEnv writes: NAME=value lines where a
// value is a run of plain bytes, single-quoted strings (which may span
// lines) and backslash-escaped bytes, plus blank lines and # comments.
// Errors give the line number, never the content.
func decodeEnv(b []byte) (sinks.Secret, error) {
	out := sinks.Secret{}
	line := 1
	i := 0
	for i < len(b) {
		switch b[i] {
		case '\n':
			line++
			i++
			continue
		case ' ', '\t', '\r':
			i++
			continue
		case '#':
			for i < len(b) && b[i] != '\n' {
				i++
			}
			continue
		}
		start := i
		for i < len(b) && b[i] != '=' && b[i] != '\n' {
			i++
		}
		name := strings.TrimPrefix(string(b[start:i]), "export ")
		if i >= len(b) || b[i] != '=' || !envName.MatchString(name) {
			return nil, fmt.Errorf("parse env: line %d: expected NAME=value", line)
		}
		i++ // '='
		startLine := line
		var v strings.Builder
	value:
		for i < len(b) {
			c := b[i]
			switch {
			case c == '\n':
				break value
			case c == '\'':
				end := bytes.IndexByte(b[i+1:], '\'')
				if end < 0 {
					return nil, fmt.Errorf("parse env: line %d: unterminated quote", startLine)
				}
				q := b[i+1 : i+1+end]
				line += bytes.Count(q, []byte{'\n'})
				v.Write(q)
				i += end + 2
			case c == '\\':
				if i+1 >= len(b) {
					return nil, fmt.Errorf("parse env: line %d: trailing backslash", line)
				}
				if b[i+1] == '\n' { // line continuation
					line++
				} else {
					v.WriteByte(b[i+1])
				}
				i += 2
			case c == '\r' && (i+1 == len(b) || b[i+1] == '\n'):
				i++
			case envPlain(c):
				v.WriteByte(c)
				i++
			default:
				return nil, fmt.Errorf("parse env: line %d: unsupported syntax in the value of %s", line, name)
			}
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("parse env: line %d: %s is set twice", startLine, name)
		}
		out[name] = v.String()
	}
	return out, nil
}

func sortedNames(data sinks.Secret) []string {
	names := make([]string, 0, len(data))
	for k := range data {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
