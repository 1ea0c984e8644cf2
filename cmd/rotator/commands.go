package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// command is one subcommand: its help and what it accepts.
type command struct {
	name, summary string
	// usage is the synopsis after "rotator ".
	usage string
	// flags are the flags it takes besides --config and the log flags.
	flags []string
	// args says what positional arguments it takes: "" none, "keys" one or
	// more key names, "key" exactly one, "key?" at most one.
	args string
	// about is the longer description and examples.
	about string
	// noConfig commands need no --config.
	noConfig bool
}

var commands = []command{
	{name: "run", summary: "the daemon: rotate every key on its schedule, serve /metrics and the control socket",
		usage: "run --config FILE [--listen ADDR]", flags: []string{"listen"},
		about: "A bare `rotator --config FILE` is the same. SIGHUP reloads the policy (as `rotator reload`);\nSIGINT or SIGTERM stops it after the work in flight.\n\nExample:\n  rotator run --config /etc/rotator/rotator.yaml"},
	{name: "run-now", summary: "one pass now, then exit (as --run-now)",
		usage: "run-now --config FILE [--key KEY]... [--due-only]", flags: []string{"key", "due-only", "dry-run"},
		about: "Finishes rotations in flight, revokes what is due, keeps live keys in use and rotates keys.\nWithout --key or --due-only it rotates EVERY key regardless of its schedule (it prints how many first).\n--key rotates only that key (repeatable); --due-only only the keys whose schedule is due\n(for systemd timers and CronJobs). Fails (exit 1) when a daemon holds the state file.\n\nExamples:\n  rotator run-now --config rotator.yaml --due-only\n  rotator run-now --config rotator.yaml --key smtpd-send"},
	{name: "rotate", summary: "rotate these keys now, whatever their schedule",
		usage: "rotate --config FILE KEY... [--revoke-old-now] [--reason TEXT]", flags: []string{"revoke-old-now", "reason"}, args: "keys",
		about: "With --revoke-old-now (a leaked key) every superseded key of KEY is revoked as soon as every sink\nholds the new key, skipping the rest of its grace; a key a sink still holds is never revoked.\nCarried out by the running daemon through its control socket, or on the state file when none runs.\nExit 0 when the new key is in every sink (and, with --revoke-old-now, the old keys are revoked),\n1 otherwise, naming what is left.\n\nExample:\n  rotator rotate --config rotator.yaml smtpd-send --revoke-old-now --reason \"leaked in CI log\""},
	{name: "revoke", summary: "revoke a key's superseded keys now, ending their grace",
		usage: "revoke --config FILE KEY --superseded [--reason TEXT]", flags: []string{"superseded", "reason"}, args: "key",
		about: "Every superseded key of KEY is revoked through the sink guard: one that a sink still holds stays.\n\nExample:\n  rotator revoke --config rotator.yaml smtpd-send --superseded"},
	{name: "retire", summary: "revoke every provider key of keys removed from the policy",
		usage: "retire --config FILE KEY... [--reason TEXT]", flags: []string{"reason"}, args: "keys",
		about: "A key removed from the policy is no longer rotated, but its provider keys stay alive (status lists it\n" +
			"as unmanaged) until it is retired. Move its consumers first and delete its secret from the sink targets\n" +
			"it was written to: the current key, every superseded key and the key of a rotation left in flight are\n" +
			"revoked through the sink guard against those targets (recorded in the state), and one that a target\n" +
			"still holds stays. Refused (exit 2) while KEY is in the policy. Exit 0 when every key is revoked, 1\n" +
			"otherwise, naming what is left.\n\nExample:\n  rotator retire --config rotator.yaml old-mail --reason \"moved to smtpd-send\""},
	{name: "pause", summary: "stop scheduled rotation of a key (keep-alive and due revocations go on)",
		usage: "pause --config FILE KEY [--reason TEXT]", flags: []string{"reason"}, args: "key",
		about: "The pause is recorded in the state file: it survives restarts until `rotator resume`.\n`status` shows the key as paused; the metric rotator_key_paused is 1.\n\nExample:\n  rotator pause --config rotator.yaml smtpd-send --reason \"incident 42\""},
	{name: "resume", summary: "restart scheduled rotation of a paused key",
		usage: "resume --config FILE KEY", args: "key",
		about: "A rotation that became due during the pause runs at once.\n\nExample:\n  rotator resume --config rotator.yaml smtpd-send"},
	{name: "reload", summary: "make the running daemon reload its policy (as SIGHUP)",
		usage: "reload --config FILE",
		about: "The daemon parses and checks the new policy; on any error it keeps the running one and says why\n(rotator_config_last_reload_successful 0). Exit 1 when no daemon runs or the reload failed.\n\nExample:\n  rotator reload --config /etc/rotator/rotator.yaml"},
	{name: "history", summary: "the audit trail: every step, with who asked and why",
		usage: "history --config FILE [KEY] [--json] [--since DURATION]", flags: []string{"json", "since"}, args: "key?",
		about: "A table, or with --json one JSON object per line (time, key, action, actor, reason, result,\nerror, key_id, old_key_ids, note). --since 24h shows the last day only.\n\nExample:\n  rotator history --config rotator.yaml smtpd-send --since 24h --json"},
	{name: "preflight", summary: "every read-only check a real run needs, changing nothing",
		usage: "preflight --config FILE",
		about: "Logs in to each provider and lists its keys; checks each sink's auth and capabilities and reads\nevery target. One line per provider and per sink target: OK or FAILED and why. Exit 0 or 1.\nRun it in CI before deploying a policy.\n\nExample:\n  rotator preflight --config rotator.yaml"},
	{name: "check", summary: "validate the policy (no network call)",
		usage: "check --config FILE [--offline]", flags: []string{"offline"},
		about: "Same as --check-config. With --offline a secret file that does not exist here (a credentials file,\n" +
			"token_file, dsn_file, ...) is a warning rather than an error, so that a production policy can be\n" +
			"validated on a laptop or in CI.\n\nExamples:\n  rotator check --config rotator.yaml\n  rotator check --config /etc/rotator/rotator.yaml --offline"},
	{name: "status", summary: "every key's state: current key, next rotation, pending revocations, paused",
		usage: "status --config FILE [--json]", flags: []string{"json", "listen"},
		about: "Asks the running daemon, or reads the state file when none runs. Before the first run every key\nis listed as never rotated.\n\nExample:\n  rotator status --config rotator.yaml --json"},
	{name: "plan", summary: "print what a run would do and change nothing (as --dry-run)",
		usage: "plan --config FILE [--run-now] [--key KEY]... [--due-only]", flags: []string{"run-now", "key", "due-only"},
		about: "Example:\n  rotator plan --config rotator.yaml --run-now --key smtpd-send"},
	{name: "demo", summary: "run against built-in test servers and a temporary file sink", noConfig: true,
		usage: "demo [--listen ADDR]", flags: []string{"listen"},
		about: "Example:\n  rotator demo"},
	{name: "state", summary: "state maintenance: state rebuild, state export, state import", noConfig: true,
		usage: "state rebuild|export|import --config FILE [FLAGS]",
		about: "rebuild recovers a corrupt state file from the sinks and providers; export writes every key record\nand its audit trail as JSON lines (no secret); import reads them back (bbolt to postgres and back).\nRun `rotator state SUBCOMMAND --help` for its flags."},
	{name: "version", summary: "print the version", usage: "version", noConfig: true},
	{name: "help", summary: "help about a command", usage: "help [COMMAND]", args: "key?", noConfig: true},
}

func lookupCommand(name string) *command {
	for i := range commands {
		if commands[i].name == name {
			return &commands[i]
		}
	}
	return nil
}

// flagHelp is each flag's usage line.
var flagHelp = map[string]string{
	"config":         "--config FILE         the policy (YAML)",
	"log-level":      "--log-level LEVEL     debug, info, warn or error (default info)",
	"log-format":     "--log-format FORMAT   json or console (default: console on a terminal, else json)",
	"listen":         "--listen ADDR         address of /metrics, /healthz, /readyz, /status (overrides listen:)",
	"key":            "--key KEY             only this key (repeatable)",
	"due-only":       "--due-only            rotate only keys whose schedule is due",
	"dry-run":        "--dry-run             print the plan and change nothing",
	"run-now":        "--run-now             plan a one-off pass instead of the daemon's next wake-up",
	"revoke-old-now": "--revoke-old-now      revoke the superseded keys as soon as every sink holds the new key",
	"reason":         "--reason TEXT         why, for the audit trail",
	"superseded":     "--superseded          revoke the key's superseded keys (required)",
	"json":           "--json                machine-readable output",
	"since":          "--since DURATION      only events newer than this (24h, 7d)",
	"offline":        "--offline             a missing secret file is a warning, not an error",
}

var globalFlags = []string{"config", "log-level", "log-format"}

// writeHelp is `rotator --help`.
func writeHelp(w io.Writer) {
	fmt.Fprint(w, "rotator rotates API keys at their providers and writes them to sinks (files, Vault, AWS).\n\n")
	fmt.Fprint(w, "Usage:\n  rotator COMMAND --config FILE [FLAGS] [KEY]...\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nFlags of every command:\n")
	for _, f := range globalFlags {
		fmt.Fprintf(w, "  %s\n", flagHelp[f])
	}
	fmt.Fprint(w, "\nFlags may come before or after key names. The flags of earlier versions still work:\n"+
		"--run-now is run-now, --check-config check, --status status, --dry-run plan, --demo demo,\n"+
		"--version version, and a bare --config FILE is run.\n")
	writeExitCodes(w)
	fmt.Fprint(w, "\nExamples:\n  rotator demo\n  rotator check --config rotator.yaml\n  rotator run --config rotator.yaml\n"+
		"  rotator rotate --config rotator.yaml smtpd-send --revoke-old-now --reason leaked\n\n"+
		"Run 'rotator help COMMAND' for a command's flags. Runbooks: docs/operations.md.\n")
}

func writeExitCodes(w io.Writer) {
	fmt.Fprint(w, "\nExit codes:\n  0  success\n  1  a rotation, revocation, check or control request failed\n  2  usage or configuration error\n")
}

// writeCommandHelp is `rotator help CMD`.
func writeCommandHelp(w io.Writer, c *command) {
	fmt.Fprintf(w, "rotator %s: %s\n\nUsage:\n  rotator %s\n", c.name, c.summary, c.usage)
	var fl []string
	if !c.noConfig || c.name == "demo" {
		fl = append(fl, globalFlags...)
	}
	if c.noConfig {
		fl = slices.DeleteFunc(fl, func(s string) bool { return s == "config" })
	}
	fl = append(fl, c.flags...)
	if len(fl) > 0 {
		fmt.Fprint(w, "\nFlags:\n")
		for _, f := range fl {
			fmt.Fprintf(w, "  %s\n", flagHelp[f])
		}
	}
	if c.about != "" {
		fmt.Fprintf(w, "\n%s\n", c.about)
	}
	writeExitCodes(w)
}

// suggest is the closest of names to s, "" when none is close.
func suggest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(s, n); d < bestD || (strings.HasPrefix(n, s) && len(s) >= 3 && bestD > 1) {
			best, bestD = n, min(d, 1)
		}
	}
	return best
}

// editDistance is the Levenshtein distance.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
