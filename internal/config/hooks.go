package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Hook events, as a key's hook references name them (on: [...]).
const (
	EventConverged = "converged" // every sink holds the new key
	EventRevoked   = "revoked"   // a superseded key was revoked
	EventFailed    = "failed"    // a rotation failed
	EventEmergency = "emergency" // a rotation started because the key leaked or the provider rejected it
)

// Events are the hook events in the order they are documented.
var Events = []string{EventConverged, EventRevoked, EventFailed, EventEmergency}

// Hook types.
const (
	HookExec    = "exec"
	HookWebhook = "webhook"
)

// Hook timeouts: the default, and the bounds of `timeout`.
const (
	DefaultHookTimeout = 30 * time.Second
	MinHookTimeout     = time.Second
	MaxHookTimeout     = time.Hour
)

// Hook is one entry of the top-level hooks: a command run without a shell
// (exec) or a signed HTTPS POST (webhook).
type Hook struct {
	Name string
	Type string
	// Command and Args are exec's program and arguments. A Command with a
	// slash is resolved against the configuration file's folder; a bare
	// name is looked up in PATH when the hook runs.
	Command string
	Args    []string
	// URL is the webhook's address (https, or http to a loopback address).
	URL string
	// HMACKey is the webhook's signing key: the bytes of secret_file,
	// exactly (a trailing newline included).
	HMACKey Secret
	// Timeout bounds one run of the command (its whole process group is
	// killed then) or one attempt of the POST.
	Timeout time.Duration
	// Path is the hook's YAML path ("hooks.notify").
	Path string
}

// HookRef is one of a key's hooks: which named hook (under the top-level
// hooks:) runs on which events, and whether the old key's revocation
// waits for its success on converged.
type HookRef struct {
	Hook            string
	On              []string
	BlockRevocation bool
	// Path is the reference's YAML path, for errors.
	Path string
}

// Runs reports whether the reference subscribes to event.
func (h HookRef) Runs(event string) bool { return slices.Contains(h.On, event) }

// BlockingHooks are the names of the key's hooks whose success on
// converged the old key's revocation waits for.
func (k Key) BlockingHooks() []string {
	var out []string
	for _, h := range k.Hooks {
		if h.BlockRevocation {
			out = append(out, h.Hook)
		}
	}
	return out
}

type rawHook struct {
	Type       string    `yaml:"type"`
	Command    string    `yaml:"command"`
	Args       []string  `yaml:"args"`
	URL        string    `yaml:"url"`
	SecretFile string    `yaml:"secret_file"`
	Timeout    *Duration `yaml:"timeout"`
}

type rawHookRef struct {
	Hook            string   `yaml:"hook"`
	On              []string `yaml:"on"`
	BlockRevocation bool     `yaml:"block_revocation"`
}

// buildHooks turns the top-level hooks: mapping into Hooks in file order.
// It is optional: no hooks: is no hooks.
func buildHooks(n yaml.Node, baseDir string, ws *Warnings) ([]Hook, error) {
	if n.Kind == 0 || n.Tag == "!!null" {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, &FieldError{Path: "hooks", Line: n.Line, Err: errors.New("must be a mapping of name: {type: exec|webhook, ...}")}
	}
	var out []Hook
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		sec, err := namedSection(&n, i, "hooks", baseDir, "{type: exec, command: /usr/local/bin/reload}")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sec.Warnings = ws
		h, err := buildHook(n.Content[i].Value, sec)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, h)
	}
	return out, errors.Join(errs...)
}

func buildHook(name string, sec Section) (Hook, error) {
	var rh rawHook
	if err := sec.Decode(&rh); err != nil {
		return Hook{}, err
	}
	h := Hook{Name: name, Type: rh.Type, Timeout: DefaultHookTimeout, Path: sec.Path}
	var errs []error
	if rh.Timeout != nil {
		h.Timeout = rh.Timeout.D()
		if h.Timeout < MinHookTimeout || h.Timeout > MaxHookTimeout {
			errs = append(errs, sec.Errorf("timeout", "%s: want between %s and %s", h.Timeout, MinHookTimeout, MaxHookTimeout))
		}
	}
	only := func(field, of string) {
		if sec.Has(field) {
			errs = append(errs, sec.Errorf(field, "is not a field of a %s hook", of))
		}
	}
	switch rh.Type {
	case HookExec:
		only("url", HookExec)
		only("secret_file", HookExec)
		h.Command, h.Args = rh.Command, rh.Args
		switch {
		case strings.TrimSpace(rh.Command) == "":
			errs = append(errs, sec.Errorf("command", "is required: the program to run (no shell), such as /usr/local/bin/reload-app"))
		case strings.ContainsRune(rh.Command, '/'):
			h.Command = sec.Resolve(rh.Command)
		}
		for i, a := range rh.Args {
			if strings.ContainsRune(a, 0) {
				errs = append(errs, sec.Errorf(fmt.Sprintf("args[%d]", i), "contains a NUL byte"))
			}
		}
	case HookWebhook:
		only("command", HookWebhook)
		only("args", HookWebhook)
		h.URL = rh.URL
		if err := checkWebhookURL(rh.URL); err != nil {
			errs = append(errs, sec.Field("url", err))
		}
		key, err := hmacKey(sec, rh.SecretFile)
		errs = append(errs, err)
		h.HMACKey = key
	case "":
		return Hook{}, sec.Errorf("type", "is required (exec or webhook)")
	default:
		return Hook{}, sec.Errorf("type", "unknown hook type %q (known: exec, webhook)", rh.Type)
	}
	return h, errors.Join(errs...)
}

// checkWebhookURL wants an absolute https URL, or http to a loopback
// address; no credentials in it (the URL may be logged). The error does
// not repeat the URL: its path may hold a token.
func checkWebhookURL(raw string) error {
	if raw == "" {
		return errors.New("is required, such as https://hooks.example.com/rotator")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return errors.New("is not an absolute http(s) URL")
	}
	if u.User != nil {
		return errors.New("must not carry credentials (user:password@): the body is signed with secret_file instead")
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("http:// to %s, which is not a loopback address, would send events in cleartext: use https", u.Hostname())
	}
	return nil
}

// hmacKey reads a webhook's secret_file: its bytes, exactly, are the HMAC
// key.
func hmacKey(sec Section, file string) (Secret, error) {
	if file == "" {
		return "", sec.Errorf("secret_file", "is required: the file whose bytes are the key of the body's HMAC-SHA256 signature")
	}
	path := sec.Resolve(file)
	b, perm, err := readSecretFile(path)
	if sec.offlineMissing("secret_file", path, err) {
		return OfflineSecret, nil
	}
	if err != nil {
		return "", sec.Field("secret_file", fmt.Errorf("read secret file: %w", err))
	}
	if len(b) == 0 {
		return "", sec.Errorf("secret_file", "file %s is empty", path)
	}
	if perm&0o044 != 0 {
		sec.Warnf("secret_file", "secret file %s is readable by other users (mode %04o): chmod 600 it, or 640 for a group only rotator's user is in", path, perm)
	}
	return Secret(b), nil
}

// hookNames are the names under the top-level hooks:.
func hookNames(n *yaml.Node) []string {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	out := make([]string, 0, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		out = append(out, n.Content[i].Value)
	}
	return out
}

// hookRefs checks a key's hooks: references against the defined hooks.
// names are the hooks defined (hookNames), valid or not: an error in a
// hook is not repeated at every key that references it.
func hookRefs(raw []rawHookRef, kn *yaml.Node, path string, names []string) ([]HookRef, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	seqNode := childNode(kn, "hooks")
	var out []HookRef
	var errs []error
	for j, r := range raw {
		ref := HookRef{Hook: r.Hook, On: r.On, BlockRevocation: r.BlockRevocation, Path: fmt.Sprintf("%s.hooks[%d]", path, j)}
		sec := Section{Path: ref.Path}
		if seqNode != nil && j < len(seqNode.Content) {
			sec.Node = seqNode.Content[j]
		}
		if err := checkRef(ref, sec, names, out); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, ref)
	}
	return out, errors.Join(errs...)
}

func checkRef(ref HookRef, sec Section, names []string, prev []HookRef) error {
	switch {
	case ref.Hook == "":
		return sec.Errorf("hook", "is required: the name of a hook under hooks")
	case !slices.Contains(names, ref.Hook):
		defined := "none"
		if len(names) > 0 {
			defined = strings.Join(names, ", ")
		}
		return sec.Errorf("hook", "%q is not defined under hooks (defined: %s)", ref.Hook, defined)
	case len(ref.On) == 0:
		return sec.Errorf("on", "is required: the events to run on (%s)", strings.Join(Events, ", "))
	}
	for i, p := range prev {
		if p.Hook == ref.Hook {
			return sec.Errorf("hook", "%q is already referenced by %s: list its events in one on:", ref.Hook, prev[i].Path)
		}
	}
	for i, ev := range ref.On {
		if !slices.Contains(Events, ev) {
			return sec.Errorf(fmt.Sprintf("on[%d]", i), "%q is not an event (events: %s)", ev, strings.Join(Events, ", "))
		}
		if slices.Contains(ref.On[:i], ev) {
			return sec.Errorf(fmt.Sprintf("on[%d]", i), "%q is listed twice", ev)
		}
	}
	if ref.BlockRevocation && !ref.Runs(EventConverged) {
		return sec.Errorf("block_revocation", "waits for the hook's success on converged, but its on: does not list converged")
	}
	return nil
}
