package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const good = `listen: "127.0.0.1:9102"
state:
  path: ./state.db
defaults:
  schedule: "@every 720h"
  grace: 24h
providers:
  smtpd-prod: {type: smtpd, base_url: "https://api.smtpd.dev", username: u, password: p}
  emailit: {type: emailit, api_key: k}
sinks:
  local: {type: file, dir: /out}
keys:
  - name: smtpd-send
    provider: smtpd-prod
    params: {role: send_only}
    schedule: "0 3 * * 1"
    grace: 48h
    sinks:
      - {sink: local, path: smtpd-send.env, format: env}
  - name: emailit-sending
    provider: emailit
    keepalive: 0s
    sinks:
      - {sink: local, path: e.json, fields: {api_key: EMAILIT_API_KEY}}
`

func TestLoadGoodConfigAppliesDefaults(t *testing.T) {
	c, err := Load(strings.NewReader(good), "/etc/rotator")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.StatePath, "/etc/rotator/state.db"; got != want {
		t.Errorf("state path = %q, want %q (relative to the config folder)", got, want)
	}
	if got, want := len(c.Keys), 2; got != want {
		t.Fatalf("keys = %d, want %d", got, want)
	}
	k0, k1 := c.Keys[0], c.Keys[1]
	if k0.Grace != 48*time.Hour || k1.Grace != 24*time.Hour {
		t.Errorf("grace = %s, %s; want the key's 48h and the default 24h", k0.Grace, k1.Grace)
	}
	if k0.KeepAlive != DefaultKeepAlive || k1.KeepAlive != 0 {
		t.Errorf("keepalive = %s, %s; want the default and 0s", k0.KeepAlive, k1.KeepAlive)
	}
	if k1.ScheduleSpec != "@every 720h" || k1.Timeout != DefaultTimeout || k1.NamePrefix != DefaultNamePrefix {
		t.Errorf("defaults not applied: %+v", k1)
	}
	if got := c.Keys[0].Targets[0].Section.Type; got != "file" {
		t.Errorf("target type = %q, want the sink's type", got)
	}
	if c.MaxConcurrent != DefaultMaxConcurrent || c.Listen != "127.0.0.1:9102" {
		t.Errorf("top-level defaults: %+v", c)
	}
}

func TestLoadExpandsEnvironment(t *testing.T) {
	t.Setenv("ROTATOR_TEST_DIR", "/srv/out")
	c, err := Load(strings.NewReader(strings.Replace(good, "dir: /out", "dir: \"${ROTATOR_TEST_DIR}/$$x\"", 1)), "/")
	if err != nil {
		t.Fatal(err)
	}
	var dir struct {
		Dir string `yaml:"dir"`
	}
	if err := c.Sinks[0].Decode(&dir, "type"); err != nil {
		t.Fatal(err)
	}
	if dir.Dir != "/srv/out/$x" {
		t.Errorf("dir = %q, want /srv/out/$x", dir.Dir)
	}
}

// TestLoadBadConfigs: every bad input gets an error that names the YAML
// path (and the line where there is one), and the exact text is pinned so
// that a regression in wording is seen.
func TestLoadBadConfigs(t *testing.T) {
	tests := map[string]struct{ yaml, want string }{
		"empty file":                    {``, `config file is empty`},
		"only a comment":                {"# nothing\n", `config file is empty`},
		"not a mapping":                 {"- a\n- b\n", `parse config (line 1): the top level must be a mapping`},
		"two documents":                 {good + "---\nlisten: x\n", `parse config: the file holds more than one YAML document`},
		"syntax error":                  {"listen: [\n", "parse config: line 1, column 10: did not find expected node content\n  listen: [\n           ^"},
		"duplicate key":                 {"listen: a\nlisten: b\n", `listen (line 2): defined twice: first at line 1; remove one (the second would silently replace the first)`},
		"duplicate provider":            {strings.Replace(good, "  emailit: {type: emailit, api_key: k}\n", "  emailit: {type: emailit, api_key: k}\n  smtpd-prod: {type: smtpd}\n", 1), `providers.smtpd-prod (line 10): defined twice: first at line 8; remove one (the second would silently replace the first)`},
		"duplicate sink":                {strings.Replace(good, "  local: {type: file, dir: /out}\n", "  local: {type: file, dir: /out}\n  local: {type: file, dir: /tmp}\n", 1), `sinks.local (line 12): defined twice: first at line 11; remove one (the second would silently replace the first)`},
		"duplicate field in a provider": {strings.Replace(good, "username: u, password: p}", "username: u, password: p, username: v}", 1), `providers.smtpd-prod.username (line 8): defined twice: first at line 8; remove one (the second would silently replace the first)`},
		"duplicate field in a target":   {strings.Replace(good, "{sink: local, path: smtpd-send.env, format: env}", "{sink: local, path: smtpd-send.env, format: env, path: x}", 1), `keys[0].sinks[0].path (line 19): defined twice: first at line 19; remove one (the second would silently replace the first)`},
		"duplicate rename":              {strings.Replace(good, "fields: {api_key: EMAILIT_API_KEY}", "fields: {api_key: A, api_key: B}", 1), `keys[1].sinks[0].fields.api_key (line 24): defined twice: first at line 24; remove one (the second would silently replace the first)`},
		"duplicate param":               {strings.Replace(good, "params: {role: send_only}", "params: {role: send_only}\n    params: {role: iac}", 1), `keys[0].params (line 16): defined twice: first at line 15; remove one (the second would silently replace the first)`},
		"duplicate in defaults":         {strings.Replace(good, "  grace: 24h\n", "  grace: 24h\n  schedule: \"@daily\"\n", 1), `defaults.schedule (line 7): defined twice: first at line 5; remove one (the second would silently replace the first)`},
		"two duplicates":                {strings.Replace(good, "  local: {type: file, dir: /out}\n", "  local: {type: file, dir: /out}\n  local: {type: file, dir: /tmp}\n", 1) + "listen: x\n", "sinks.local (line 12): defined twice: first at line 11; remove one (the second would silently replace the first)\nlisten (line 26): defined twice: first at line 1; remove one (the second would silently replace the first)"},
		"unknown top-level field":       {"lisen: x\n" + good, `lisen (line 1): unknown field "lisen" (known: control, defaults, hooks, keys, listen, max_concurrent, orphan_scan_interval, providers, shutdown_timeout, sinks, state)`},
		"unknown field in state":        {strings.Replace(good, "path: ./state.db", "paht: ./state.db", 1), `state.paht (line 3): unknown field "paht" (known: backend, dsn, dsn_file, lease_ttl, max_conns, path, schema)`},
		"unknown field in defaults":     {strings.Replace(good, "grace: 24h\n", "grace: 24h\n  graec: 1h\n", 1), `defaults.graec (line 7): unknown field "graec" (known: grace, jitter, keepalive, max_grace, name_prefix, on_max_grace, prune_orphans, quiet, revoke_when, schedule, timeout)`},
		"unknown field in a key":        {strings.Replace(good, "grace: 48h", "grace: 48h\n    rotate_every: 1h", 1), `keys[0].rotate_every (line 18): unknown field "rotate_every" (known: grace, hooks, jitter, keepalive, max_grace, name, name_prefix, on_max_grace, params, paused, provider, prune_orphans, quiet, revoke_when, schedule, sinks, timeout)`},
		"bad listen":                    {strings.Replace(good, `listen: "127.0.0.1:9102"`, `listen: "9102"`, 1), `listen (line 1): "9102" is not host:port`},
		"max_concurrent zero":           {"max_concurrent: 0\n" + good, `max_concurrent (line 1): must be at least 1, got 0`},
		"max_concurrent not a number":   {"max_concurrent: many\n" + good, "parse config: line 1: cannot unmarshal !!str `many` into int"},
		"shutdown_timeout zero":         {"shutdown_timeout: 0s\n" + good, `shutdown_timeout (line 1): must be positive`},
		"orphan scan too often":         {"orphan_scan_interval: 10s\n" + good, `orphan_scan_interval (line 1): must be at least 1m, got 10s`},
		"bad default schedule":          {strings.Replace(good, `schedule: "@every 720h"`, `schedule: "every month"`, 1), `defaults.schedule (line 5): invalid schedule "every month": expected exactly 5 fields, found 2: [every month]`},
		"bad key schedule":              {strings.Replace(good, `"0 3 * * 1"`, `"0 3 * * 8"`, 1), `keys[0].schedule (line 16): invalid schedule "0 3 * * 8": end of range (8) above maximum (6): 8`},
		"@every below a second":         {strings.Replace(good, `"0 3 * * 1"`, `"@every 10ms"`, 1), `keys[0].schedule (line 16): invalid schedule "@every 10ms": @every needs at least 1s`},
		"bad duration":                  {strings.Replace(good, "grace: 48h", "grace: 2 days", 1), `keys[0].grace (line 17): invalid duration "2 days" (use units such as 90s, 30m, 12h, 7d)`},
		"negative duration":             {strings.Replace(good, "grace: 48h", "grace: -1h", 1), `keys[0].grace (line 17): duration "-1h" is negative`},
		"keepalive below a second":      {strings.Replace(good, "keepalive: 0s", "keepalive: 10ms", 1), `keys[1].keepalive (line 22): must be 0s (disabled) or at least 1s`},
		"timeout zero":                  {strings.Replace(good, "keepalive: 0s", "timeout: 0s", 1), `keys[1].timeout (line 22): must be positive`},
		"bad name prefix":               {strings.Replace(good, "grace: 24h\n", "grace: 24h\n  name_prefix: Rotator_\n", 1), `defaults.name_prefix (line 7): "Rotator_" must be 1-32 characters of a-z, 0-9 and -, starting with a letter or digit`},
		"no providers":                  {strings.Replace(good, "providers:\n  smtpd-prod: {type: smtpd, base_url: \"https://api.smtpd.dev\", username: u, password: p}\n  emailit: {type: emailit, api_key: k}\n", "", 1), "providers: at least one entry must be configured\nkeys[0].provider (line 11): \"smtpd-prod\" is not defined under providers (defined: )\nkeys[1].provider (line 18): \"emailit\" is not defined under providers (defined: )"},
		"provider without type":         {strings.Replace(good, "emailit: {type: emailit, api_key: k}", "emailit: {api_key: k}", 1), "providers.emailit.type (line 9): is required\nkeys[1].provider (line 21): \"emailit\" is not defined under providers (defined: smtpd-prod)"},
		"provider not a mapping":        {strings.Replace(good, "emailit: {type: emailit, api_key: k}", "emailit: emailit", 1), "providers.emailit (line 9): must be a mapping with a type, such as {type: file, dir: /out}\nkeys[1].provider (line 21): \"emailit\" is not defined under providers (defined: smtpd-prod)"},
		"bad provider name":             {strings.Replace(good, "emailit: {type: emailit, api_key: k}", "\"e mail\": {type: emailit, api_key: k}", 1), "providers.e mail (line 9): name \"e mail\" must be letters, digits, _, . or -\nkeys[1].provider (line 21): \"emailit\" is not defined under providers (defined: smtpd-prod)"},
		"sinks not a mapping":           {strings.Replace(good, "sinks:\n  local: {type: file, dir: /out}", "sinks:\n  - local", 1), "sinks (line 11): must be a mapping of name: {type: ..., ...}\nkeys[0].sinks[0].sink (line 19): \"local\" is not defined under sinks (defined: )\nkeys[1].sinks[0].sink (line 24): \"local\" is not defined under sinks (defined: )"},
		"no keys":                       {strings.SplitAfter(good, "keys:\n")[0], `keys (line 12): at least one key must be configured`},
		"key without name":              {strings.Replace(good, "  - name: emailit-sending\n", "  - provider2: x\n", 1), `keys[1].provider2 (line 20): unknown field "provider2" (known: grace, hooks, jitter, keepalive, max_grace, name, name_prefix, on_max_grace, params, paused, provider, prune_orphans, quiet, revoke_when, schedule, sinks, timeout)`},
		"key name missing":              {strings.Replace(good, "  - name: emailit-sending\n    provider: emailit\n", "  - provider: emailit\n", 1), `keys[1].name (line 20): is required`},
		"key name with capitals":        {strings.Replace(good, "name: smtpd-send", "name: SMTPD_Send", 1), `keys[0].name (line 13): "SMTPD_Send" must be 1-64 characters of a-z, 0-9 and -, not starting or ending with -`},
		"duplicate key name":            {strings.Replace(good, "name: emailit-sending", "name: smtpd-send", 1), `keys[1].name (line 20): "smtpd-send" is already used by keys[0] (line 13)`},
		"unknown provider":              {strings.Replace(good, "provider: smtpd-prod", "provider: smtpd", 1), `keys[0].provider (line 14): "smtpd" is not defined under providers (defined: emailit, smtpd-prod)`},
		"key without provider":          {strings.Replace(good, "    provider: smtpd-prod\n", "", 1), `keys[0].provider (line 13): is required`},
		"key without sinks":             {strings.Replace(good, "    sinks:\n      - {sink: local, path: smtpd-send.env, format: env}\n", "", 1), `keys[0].sinks (line 13): at least one sink must be configured`},
		"unknown sink":                  {strings.Replace(good, "{sink: local, path: smtpd", "{sink: vault, path: smtpd", 1), `keys[0].sinks[0].sink (line 19): "vault" is not defined under sinks (defined: local)`},
		"target without sink":           {strings.Replace(good, "{sink: local, path: smtpd", "{path: smtpd", 1), `keys[0].sinks[0].sink (line 19): is required`},
		"target not a mapping":          {strings.Replace(good, "- {sink: local, path: smtpd-send.env, format: env}", "- local", 1), `keys[0].sinks[0] (line 19): must be a mapping such as {sink: NAME, path: ...}`},
		"rename to the same name twice": {strings.Replace(good, "fields: {api_key: EMAILIT_API_KEY}", "fields: {api_key: X, key_id: X}", 1), `keys[1].sinks[0].fields (line 24): api_key and key_id are both renamed to X`},
		"params not strings":            {strings.Replace(good, "params: {role: send_only}", "params: [send_only]", 1), "parse config: line 15: cannot unmarshal !!seq into map[string]string"},
		"unset environment variable":    {strings.Replace(good, "dir: /out", "dir: \"${ROTATOR_TEST_UNSET_VAR}\"", 1), `sinks.local.dir (line 11): environment variable ROTATOR_TEST_UNSET_VAR is not set (give a default with ${ROTATOR_TEST_UNSET_VAR:-value}; $$ is a literal $)`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := Load(strings.NewReader(tc.yaml), "/etc/rotator")
			if err == nil {
				t.Fatalf("no error; want %q", tc.want)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("error:\n got: %s\nwant: %s", got, tc.want)
			}
		})
	}
	if len(tests) < 30 {
		t.Errorf("only %d bad configurations are tested", len(tests))
	}
}

func TestSectionDecodeIsStrictAndNamesThePath(t *testing.T) {
	c, err := Load(strings.NewReader(strings.Replace(good, "username: u,", "username: u, pasword: x,", 1)), "/")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		BaseURL  string `yaml:"base_url"`
		Username string `yaml:"username"`
		Password Secret `yaml:"password"`
	}
	err = c.Providers[0].Decode(&cfg, "type")
	want := `providers.smtpd-prod.pasword (line 8): unknown field "pasword" (known: base_url, password, username)`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cr3t-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sec := Section{Path: "providers.p", BaseDir: dir}
	got, err := sec.Secret("password", "", "pw", true)
	if err != nil || got.Reveal() != "s3cr3t-value" {
		t.Fatalf("got %q, %v", got.Reveal(), err)
	}
	if s := got.String(); strings.Contains(s, "s3cr3t") {
		t.Errorf("String() = %q reveals the secret", s)
	}
	for name, tc := range map[string]struct {
		inline Secret
		file   string
		want   string
	}{
		"both":    {"x", "pw", "providers.p.password: at most one of password & password_file must be configured"},
		"neither": {"", "", "providers.p.password: one of password or password_file must be configured"},
		"missing": {"", "nope", "providers.p.password_file: read secret file: " + filepath.Join(dir, "nope") + ": no such file or directory"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := sec.Secret("password", tc.inline, tc.file, true)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

func FuzzLoad(f *testing.F) {
	f.Add(good)
	f.Add("")
	f.Add("keys: [{name: a, provider: p, sinks: [{sink: s}]}]\nproviders: {p: {type: x}}\nsinks: {s: {type: y}}\n")
	f.Add("listen: ${X}\n")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Load(strings.NewReader(in), "/")
		if err == nil && (c == nil || len(c.Keys) == 0) {
			t.Fatalf("accepted a config without keys: %q", in)
		}
	})
}

// TestEqualParamsAndSchedulesAreShared: a large fleet holds one copy of
// each distinct params map and schedule (docs/performance.md), and keys
// with different values never share.
func TestEqualParamsAndSchedulesAreShared(t *testing.T) {
	cfg, err := Load(strings.NewReader(`
providers:
  p: {type: smtpd}
sinks:
  s: {type: file}
keys:
  - {name: a, provider: p, params: {role: standard, x: "1"}, schedule: "@daily", sinks: [{sink: s}]}
  - {name: b, provider: p, params: {x: "1", role: standard}, schedule: "@daily", sinks: [{sink: s}]}
  - {name: c, provider: p, params: {role: standard, x: "2"}, schedule: "@weekly", sinks: [{sink: s}]}
  - {name: d, provider: p, params: {a: "x\0b\0y"}, sinks: [{sink: s}]}
  - {name: e, provider: p, params: {a: "x", b: "y"}, sinks: [{sink: s}]}
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ptr := func(m map[string]string) uintptr { return reflect.ValueOf(m).Pointer() }
	a, b, c := cfg.Keys[0], cfg.Keys[1], cfg.Keys[2]
	if ptr(a.Params) != ptr(b.Params) || a.Schedule != b.Schedule {
		t.Error("equal params or schedules are not shared")
	}
	if ptr(a.Params) == ptr(c.Params) || c.Params["x"] != "2" || a.Schedule == c.Schedule {
		t.Errorf("different params or schedules are shared: %v", c.Params)
	}
	if d, e := cfg.Keys[3], cfg.Keys[4]; ptr(d.Params) == ptr(e.Params) || len(e.Params) != 2 {
		t.Errorf("params whose contents concatenate alike are shared: %q and %q", d.Params, e.Params)
	}
}
