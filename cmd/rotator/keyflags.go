package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/rotator-dev/rotator/internal/config"
)

// checkKeyFlags rejects a --key that names no key of the policy, with the
// closest name, before anything is opened or checked: a typo is a usage
// error (exit 2), not a failed run.
func checkKeyFlags(cmd string, keys []string, policy []config.Key) error {
	if len(keys) == 0 {
		return nil
	}
	names := make([]string, len(policy))
	for i, k := range policy {
		names[i] = k.Name
	}
	for _, k := range keys {
		if slices.Contains(names, k) {
			continue
		}
		msg := fmt.Sprintf("%s: --key %s: no such key in the policy", cmd, k)
		if s := suggest(k, names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		shown := names
		if len(shown) > 10 {
			shown = append(slices.Clone(shown[:10]), fmt.Sprintf("... (%d more)", len(names)-10))
		}
		return usageError{msg + " (keys: " + strings.Join(shown, ", ") + ")"}
	}
	return nil
}
