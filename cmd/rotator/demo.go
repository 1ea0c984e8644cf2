package main

import (
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/providers/emailit/emailittest"
	"github.com/rotator-dev/rotator/internal/providers/smtpd/smtpdtest"
)

// demo is rotator --demo: the real daemon against in-process test servers
// for smtpd.dev and Emailit, writing to a file sink in a temporary folder,
// on a schedule of seconds.
type demo struct {
	dir        string
	configPath string
	smtpd      *smtpdtest.Server
	emailit    *emailittest.Server
}

const demoConfig = `# Written by rotator --demo. Every part of it works the same with real
# credentials: see rotator.example.yaml.
listen: %q
state:
  path: ./state.db
defaults:
  schedule: "@every 20s"   # rotate every 20 seconds
  grace: 10s               # keep the previous key alive for 10 seconds
  keepalive: 15s           # use live keys every 15 seconds
  timeout: 15s             # shorter than the schedule, so rotations never overlap
orphan_scan_interval: 1m
hooks:
  announce:                # tell consumers: here a command that does nothing
    type: exec
    command: /bin/true
    timeout: 5s
providers:
  smtpd-demo:
    type: smtpd
    base_url: %q
    username: %q
    password_file: ./smtpd-password
  emailit-demo:
    type: emailit
    base_url: %q
    api_key_file: ./emailit-management-key
sinks:
  out:
    type: file
    dir: ./out
keys:
  - name: smtpd-send
    provider: smtpd-demo
    params: {role: send_only}
    hooks:
      - {hook: announce, on: [converged, revoked, failed]}
    sinks:
      - {sink: out, path: smtpd-send.env, format: env}
  - name: emailit-sending
    provider: emailit-demo
    params: {scope: sending}
    keepalive: 0s            # Emailit does not revoke idle keys
    sinks:
      - {sink: out, path: emailit-sending.json, fields: {api_key: EMAILIT_API_KEY}}
`

func startDemo(logger *zap.Logger, o *options) (*demo, error) {
	dir, err := os.MkdirTemp("", "rotator-demo-")
	if err != nil {
		return nil, fmt.Errorf("demo folder: %w", err)
	}
	d := &demo{dir: dir}
	d.smtpd = smtpdtest.New(smtpdtest.Config{})
	d.emailit = emailittest.New(emailittest.Config{})
	listen := o.listen
	if listen == "" {
		listen = config.DefaultListen
	}
	files := map[string]string{
		"smtpd-password":         d.smtpd.Password() + "\n",
		"emailit-management-key": d.emailit.ManagementKey() + "\n",
		"rotator.yaml": fmt.Sprintf(demoConfig, listen, d.smtpd.URL(), d.smtpd.Username(),
			d.emailit.URL()),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			d.close()
			return nil, fmt.Errorf("demo: %w", err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "out"), 0o700); err != nil {
		d.close()
		return nil, fmt.Errorf("demo: %w", err)
	}
	d.configPath = filepath.Join(dir, "rotator.yaml")
	logger.Info("demo: test servers for smtpd.dev and Emailit started; the file sink writes to "+filepath.Join(dir, "out"),
		zap.String("config", d.configPath), zap.String("smtpd_url", d.smtpd.URL()), zap.String("emailit_url", d.emailit.URL()))
	return d, nil
}

func (d *demo) close() {
	if d.smtpd != nil {
		d.smtpd.Close()
	}
	if d.emailit != nil {
		d.emailit.Close()
	}
	os.RemoveAll(d.dir)
}
