package httpapi

// Rate is the client's current request rate (requests per second): the
// configured rate, lowered by each 429 and raised again by each quiet
// spell (see LearnStep).
func (c *Client) Rate() float64 { return float64(c.limiter.Limit()) }
