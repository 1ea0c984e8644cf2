package vault

import "time"

// SetRetryWait shortens the api client's wait between retries for the
// tests of a store that is down; it returns a func restoring the default.
func SetRetryWait(d time.Duration) (restore func()) {
	old := retryWait
	retryWait = [2]time.Duration{d, d}
	return func() { retryWait = old }
}
