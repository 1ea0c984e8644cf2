package config

import "gopkg.in/yaml.v3"

// rawControl is the `control:` section: how operators reach the daemon.
type rawControl struct {
	// TokenFile holds the bearer token that /status (and later control
	// endpoints) require. Without it they answer only on loopback.
	TokenFile string `yaml:"token_file"`
}

// controlToken reads control.token_file (empty when unset).
func controlToken(rc rawControl, root *yaml.Node, baseDir string) (Secret, error) {
	sec := Section{Path: "control", Node: childNode(root, "control"), BaseDir: baseDir}
	return sec.Secret("token", "", rc.TokenFile, false)
}
