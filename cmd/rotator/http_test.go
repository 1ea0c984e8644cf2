package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func waitHTTP(t *testing.T, url, want string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = string(b)
			if resp.StatusCode == 200 && strings.Contains(last, want) {
				return last
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never contained %q; last: %.500s", url, want, last)
	return ""
}
