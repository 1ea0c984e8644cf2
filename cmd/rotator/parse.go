package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/rotator-dev/rotator/internal/config"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type options struct {
	cmd  string
	args []string // key names (or the command for help)

	config, listen, logLevel, logFormat string

	keys                stringList
	dueOnly, dryRun     bool
	runNow              bool // plan: a one-off pass
	revokeOldNow        bool
	superseded, jsonOut bool
	offline             bool // check: missing secret files are warnings
	reason              string
	since               time.Duration
	demo                bool // the demo's policy: logs on the console
}

// usageError is a command line mistake (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// legacy maps the flags of earlier versions to their command.
var legacy = map[string]string{"run-now": "run-now", "check-config": "check", "status": "status",
	"dry-run": "plan", "demo": "demo", "version": "version", "help": "help", "h": "help"}

// splitCommand finds the command: the first argument when it is a word,
// else the one a legacy flag names (removed from args), else run.
func splitCommand(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	found := map[string]bool{}
	var rest []string
	for _, a := range args {
		name := strings.TrimLeft(a, "-")
		if cmd, ok := legacy[name]; ok && strings.HasPrefix(a, "-") {
			found[cmd] = true
			continue
		}
		rest = append(rest, a)
	}
	for _, cmd := range []string{"help", "version", "demo", "plan", "run-now", "check", "status"} {
		if found[cmd] {
			if cmd == "plan" && found["run-now"] {
				rest = append(rest, "--run-now")
			}
			return cmd, rest
		}
	}
	return "run", rest
}

func (c *cli) parse(args []string) (*options, error) {
	cmdName, rest := splitCommand(args)
	cmd := lookupCommand(cmdName)
	if cmd == nil {
		names := make([]string, len(commands))
		for i, c := range commands {
			names[i] = c.name
		}
		msg := fmt.Sprintf("unknown command %q", cmdName)
		if s := suggest(cmdName, names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return nil, usageError{msg + " (rotator --help lists the commands)"}
	}
	o := &options{cmd: cmd.name}
	fs := flag.NewFlagSet("rotator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.config, "config", "", "")
	fs.StringVar(&o.listen, "listen", "", "")
	fs.StringVar(&o.logLevel, "log-level", "info", "")
	fs.StringVar(&o.logFormat, "log-format", "", "")
	fs.Var(&o.keys, "key", "")
	fs.BoolVar(&o.dueOnly, "due-only", false, "")
	fs.BoolVar(&o.dryRun, "dry-run", false, "")
	fs.BoolVar(&o.runNow, "run-now", false, "")
	fs.BoolVar(&o.revokeOldNow, "revoke-old-now", false, "")
	fs.BoolVar(&o.superseded, "superseded", false, "")
	fs.BoolVar(&o.jsonOut, "json", false, "")
	fs.BoolVar(&o.offline, "offline", false, "")
	fs.StringVar(&o.reason, "reason", "", "")
	fs.Func("since", "", func(v string) error {
		d, err := config.ParseDuration(v)
		o.since = d
		return err
	})
	allowed := append(slices.Clone(globalFlags), cmd.flags...)
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				o.cmd, o.args = "help", []string{cmd.name}
				return o, nil
			}
			return nil, flagError(err, cmd, allowed)
		}
		if fs.NArg() == 0 {
			break
		}
		o.args = append(o.args, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	var bad []string
	fs.Visit(func(f *flag.Flag) {
		if !slices.Contains(allowed, f.Name) {
			bad = append(bad, "--"+f.Name)
		}
	})
	if len(bad) > 0 {
		return nil, usageError{fmt.Sprintf("%s does not take %s (rotator help %s)", cmd.name, strings.Join(bad, ", "), cmd.name)}
	}
	return o, o.validate(cmd)
}

// flagError is one line for a flag parse error, with a suggestion.
func flagError(err error, cmd *command, allowed []string) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: -"); ok {
		msg = fmt.Sprintf("unknown flag --%s for %s", name, cmd.name)
		cands := slices.Clone(allowed)
		for l := range legacy {
			if len(l) > 1 {
				cands = append(cands, l)
			}
		}
		slices.Sort(cands)
		if s := suggest(name, cands); s != "" {
			msg += fmt.Sprintf("; did you mean --%s?", s)
		}
		return usageError{msg + fmt.Sprintf(" (rotator help %s)", cmd.name)}
	}
	return usageError{msg}
}

func (o *options) validate(cmd *command) error {
	switch {
	case cmd.args == "" && len(o.args) > 0:
		return usageError{fmt.Sprintf("%s takes no argument, got %q", cmd.name, o.args[0])}
	case cmd.args == "keys" && len(o.args) == 0:
		return usageError{fmt.Sprintf("%s needs at least one key name: rotator %s", cmd.name, cmd.usage)}
	case cmd.args == "key" && len(o.args) != 1:
		return usageError{fmt.Sprintf("%s needs exactly one key name: rotator %s", cmd.name, cmd.usage)}
	case cmd.args == "key?" && len(o.args) > 1:
		return usageError{fmt.Sprintf("%s takes at most one argument: rotator %s", cmd.name, cmd.usage)}
	case o.config == "" && !cmd.noConfig:
		return usageError{"--config is required (or try rotator demo)"}
	case cmd.name == "revoke" && !o.superseded:
		return usageError{"revoke needs --superseded (it revokes the key's superseded keys only)"}
	case o.logFormat != "" && o.logFormat != "json" && o.logFormat != "console":
		return usageError{fmt.Sprintf("--log-format %q: want json or console", o.logFormat)}
	}
	if o.listen != "" {
		if _, _, err := net.SplitHostPort(o.listen); err != nil {
			return usageError{fmt.Sprintf("--listen %q is not host:port", o.listen)}
		}
	}
	if o.cmd == "run-now" && o.dryRun {
		o.cmd, o.runNow = "plan", true
	}
	o.demo = o.cmd == "demo"
	return nil
}
