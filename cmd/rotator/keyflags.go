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
	return checkKeyNames(cmd, "--key ", keys, policy)
}

// checkKeyArgs does the same for the KEY arguments of the control
// commands that act on a key of the policy (rotate, revoke, pause,
// resume); retire and history also take keys the policy no longer has.
func checkKeyArgs(cmd string, args []string, policy []config.Key) error {
	switch cmd {
	case "rotate", "revoke", "pause", "resume":
		return checkKeyNames(cmd, "", args, policy)
	}
	return nil
}

func checkKeyNames(cmd, flag string, keys []string, policy []config.Key) error {
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
		msg := fmt.Sprintf("%s: %s%s: no such key in the policy", cmd, flag, k)
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
