package config

import (
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// SyntaxError is a YAML syntax error at the line and column where the
// problem is, with that line quoted.
type SyntaxError struct {
	Line, Column int // 1-based; Column counts characters
	Msg          string
	Text         string // the offending line
}

func (e *SyntaxError) Error() string {
	pad := make([]rune, 0, e.Column)
	for i, r := range []rune(e.Text) {
		if i >= e.Column-1 {
			break
		}
		if r != '\t' {
			r = ' '
		}
		pad = append(pad, r)
	}
	return fmt.Sprintf("line %d, column %d: %s\n  %s\n  %s^", e.Line, e.Column, e.Msg, e.Text, string(pad))
}

var yamlSyntaxRE = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// syntaxError turns yaml.v3's syntax error about src into a *SyntaxError.
// yaml.v3 reports the line before the start of the collection it was
// parsing (a dedented `params:` on line 26 of a key starting on line 24 is
// "line 23"), not the offending token, and no column. The offending line
// is the last line of the shortest prefix of src that fails with the same
// message: parsing stops at the first error, so every longer prefix fails
// too, and a binary search from the reported line finds it in ~log2(lines)
// parses. An error that is not a syntax error is returned as it is.
func syntaxError(err error, src []byte) error {
	m := yamlSyntaxRE.FindStringSubmatch(err.Error())
	if m == nil || strings.Contains(err.Error(), "\n") {
		return err
	}
	reported, _ := strconv.Atoi(m[1])
	msg := m[2]
	lines := bytes.SplitAfter(src, []byte("\n"))
	failsWith := func(n int, tail string) bool {
		var doc yaml.Node
		e := yaml.NewDecoder(bytes.NewReader(append(bytes.Join(lines[:n], nil), tail...))).Decode(&doc)
		return e != nil && yamlSyntaxRE.ReplaceAllString(e.Error(), "$2") == msg
	}
	fails := func(n int) bool { return failsWith(n, "") }
	lo, hi := max(reported-1, 0), len(lines) // fails(hi), !fails(lo)
	if lo >= hi || lo > 0 && fails(lo) {
		lo = 0
	}
	for hi-lo > 1 {
		if mid := (lo + hi) / 2; fails(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	text := strings.TrimRight(string(lines[hi-1]), "\r\n")
	at := -1
	if strings.Contains(msg, "mapping values are not allowed") {
		// The colon yaml.v3 refused: the first one whose line, cut after
		// it, fails the same way ("a: b: c" and a continuation line's
		// "key: value" differ in which colon that is).
		for i := range len(text) {
			if text[i] == ':' && (i+1 == len(text) || text[i+1] == ' ') && failsWith(hi-1, text[:i+1]) {
				at = i
				break
			}
		}
	}
	return &SyntaxError{Line: hi, Column: column(text, msg, at), Msg: msg + hint(msg), Text: text}
}

// column guesses where on its line the problem is, unless at (a byte
// offset) says: the tab, the unclosed bracket or quote, else the first
// character after the indentation (what an indentation error is about).
func column(text, msg string, at int) int {
	switch {
	case at >= 0:
	case strings.Contains(msg, "tab character"):
		at = strings.IndexByte(text, '\t')
	case strings.Contains(msg, "expected ',' or ']'"):
		at = strings.LastIndexByte(text, '[')
	case strings.Contains(msg, "expected ',' or '}'"):
		at = strings.LastIndexByte(text, '{')
	case strings.Contains(msg, "expected node content"):
		at = len(strings.TrimRight(text, " \t"))
	case strings.Contains(msg, "end of stream"):
		at = strings.IndexAny(text, `"'`)
	}
	if at < 0 {
		at = len(text) - len(strings.TrimLeft(text, " \t"))
	}
	return utf8.RuneCountInString(text[:at]) + 1
}

// hint says what yaml.v3's indentation messages usually mean.
func hint(msg string) string {
	switch msg {
	case "did not find expected '-' indicator", "did not find expected key", "mapping values are not allowed in this context":
		return " (is this line indented like the lines around it?)"
	case "found a tab character that violates indentation":
		return " (indent with spaces)"
	}
	return ""
}
