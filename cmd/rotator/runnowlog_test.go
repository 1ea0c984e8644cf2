package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// run-now with a failing key logs that failure once at warn or above: the
// engine's "rotation failed" line with the error. The closing "run
// finished with failures" names the failed keys without repeating their
// errors (it repeated the joined error: two lines for one failure).
func TestRunNowLogsEachFailureOnce(t *testing.T) {
	e := newEnv(t, "1h")
	e.emailit.FailNext("", 1, 500) // the create
	code, _, errs := runCLI(t, "--config", e.config, "--run-now")
	if code != exitFailed {
		t.Fatalf("exit %d, want 1", code)
	}
	var withError []string
	var closing map[string]any
	for _, line := range strings.Split(strings.TrimSpace(errs), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if l["level"] != "warn" && l["level"] != "error" {
			continue
		}
		if msg, _ := l["error"].(string); strings.Contains(msg, "create key: create: server (HTTP 500") {
			withError = append(withError, l["msg"].(string))
		}
		if l["msg"] == "run finished with failures" {
			closing = l
		}
	}
	if len(withError) != 1 || withError[0] != "rotation failed; the key has no current provider key yet" {
		t.Errorf("lines at warn+ with the failure: %q, want the one rotation failed line\n%s", withError, errs)
	}
	if keys, _ := closing["failed_keys"].([]any); len(keys) != 1 || keys[0] != "news" || closing["error"] != nil {
		t.Errorf("closing line %v, want failed_keys [news] and no error", closing)
	}
}
