package smtpd

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rotator-dev/rotator/internal/providers"
)

// maxItemBytes bounds one value of the key list (an item is ~350 bytes):
// json.Decoder holds a whole value in memory before decoding it.
const maxItemBytes = 64 << 10

var (
	errItemTooLarge = fmt.Errorf("list response: a value is larger than %d bytes", maxItemBytes)
	errTooManyKeys  = errors.New("too many keys")
)

// decodeListStream reads GET /api/v1/account/api_key while it arrives: a
// bare array, or an object with a "data" array. It keeps only the keys
// named prefix*, at most max of them (errTooManyKeys past that), and holds
// one item at a time, so that memory does not grow with the response.
func decodeListStream(r io.Reader, prefix string, max int) ([]providers.KeyInfo, error) {
	br := &itemReader{r: r}
	dec := json.NewDecoder(br)
	l := listDecoder{dec: dec, br: br, prefix: prefix, max: max}
	tok, err := dec.Token()
	if err != nil {
		return nil, listError(err)
	}
	switch tok {
	case json.Delim('['):
		err = l.items()
	case json.Delim('{'):
		err = l.object()
	default:
		err = errors.New("list response: not an array")
	}
	return l.out, err
}

type listDecoder struct {
	dec    *json.Decoder
	br     *itemReader
	prefix string
	max    int
	n      int // items read
	out    []providers.KeyInfo
}

// object reads {"data": [...], ...}, skipping the other members.
func (l *listDecoder) object() error {
	found := false
	for l.dec.More() {
		l.br.mark = l.dec.InputOffset()
		tok, err := l.dec.Token()
		if err != nil {
			return listError(err)
		}
		if tok != "data" {
			var skip json.RawMessage
			if err := l.dec.Decode(&skip); err != nil {
				return listError(err)
			}
			continue
		}
		if tok, err = l.dec.Token(); err != nil || tok != json.Delim('[') {
			return errors.New("list response: data is not an array")
		}
		found = true
		if err := l.items(); err != nil {
			return err
		}
	}
	if !found {
		return errors.New("list response: no data array")
	}
	return nil
}

// items reads the items of an array whose '[' was read, and its ']'.
func (l *listDecoder) items() error {
	for l.dec.More() {
		l.br.mark = l.dec.InputOffset()
		var it keyJSON
		if err := l.dec.Decode(&it); err != nil {
			return listError(err)
		}
		if it.ID == "" {
			return fmt.Errorf("list response: item %d has no id", l.n)
		}
		l.n++
		if !strings.HasPrefix(it.Name, l.prefix) {
			continue
		}
		if len(l.out) >= l.max {
			return errTooManyKeys
		}
		l.out = append(l.out, it.info())
	}
	if _, err := l.dec.Token(); err != nil {
		return listError(err)
	}
	return nil
}

// listError describes a decoding failure without quoting the input.
func listError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errItemTooLarge):
		return errItemTooLarge
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("list response: the JSON ends early")
	case errors.As(err, &se):
		return fmt.Errorf("list response: invalid JSON at offset %d", se.Offset)
	case errors.As(err, &te):
		return fmt.Errorf("list response: field %q: unexpected JSON %s", te.Field, te.Value)
	}
	// A transport error (the caller sees it first) or one of our own
	// decoders' fixed texts.
	return fmt.Errorf("list response: %w", err)
}

// itemReader fails once the decoder has read more than maxItemBytes
// (plus its read-ahead) past mark, the start of the current value.
type itemReader struct {
	r    io.Reader
	n    int64
	mark int64
}

func (b *itemReader) Read(p []byte) (int, error) {
	// The decoder's buffer grows only to hold one value, so its
	// read-ahead stays within a few values' size.
	if b.n-b.mark > 4*maxItemBytes {
		return 0, errItemTooLarge
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}
