package config

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// FieldError is a configuration error tied to one YAML path, such as
// "keys[1].schedule", and where known the line it is on.
type FieldError struct {
	Path string
	Line int
	Err  error
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, " (line %d)", e.Line)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *FieldError) Unwrap() error { return e.Err }

var yamlLinePrefix = regexp.MustCompile(`^(yaml: )?(unmarshal errors:\n\s*)?`)

// cleanYAMLError strips yaml.v3's "yaml: unmarshal errors:" preamble.
func cleanYAMLError(err error) error {
	return errors.New(strings.TrimSpace(yamlLinePrefix.ReplaceAllString(err.Error(), "")))
}
