package httpapi

import "io"

// decodeError is a Request.Stream failure that is not the body's: the
// body was read, and the provider's answer is not what was expected.
type decodeError struct{ err error }

func (e decodeError) Error() string { return e.err.Error() }

// stream hands body to fn, bounded to max bytes. It returns
// errBodyTooLarge past the bound, the transport's error when the body
// was cut short, and fn's own error as a decodeError.
func stream(body io.Reader, max int64, fn func(io.Reader) error) error {
	cr := &countingReader{r: body, max: max}
	err := fn(cr)
	switch {
	case cr.n > max:
		return errBodyTooLarge
	case cr.err != nil:
		return cr.err
	case err != nil:
		return decodeError{err}
	}
	return nil
}

// countingReader reads at most max bytes of r, then fails with
// errBodyTooLarge; it keeps r's first error other than io.EOF.
type countingReader struct {
	r   io.Reader
	n   int64
	max int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n > c.max {
		return 0, errBodyTooLarge
	}
	if rest := c.max + 1 - c.n; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.n > c.max {
		return n, errBodyTooLarge
	}
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}
