package config

import (
	"net"

	"gopkg.in/yaml.v3"
)

// rawControl is the `control:` section: how operators reach the daemon.
type rawControl struct {
	// TokenFile holds the bearer token that /status and the control API
	// over HTTP require. Without it /status answers only on loopback.
	TokenFile string `yaml:"token_file"`
	// Listen is the host:port of the control API over HTTP (for remote
	// operators); it needs token_file. The unix socket beside the state
	// file is always there.
	Listen string `yaml:"listen"`
	// Socket is the control socket of a replica (backend postgres, which
	// has no state file to put it beside), resolved against the config
	// folder. Unset, a replica has no socket.
	Socket string `yaml:"socket"`
}

// controlSocket checks control.socket: backend postgres only (bbolt's is
// beside its state file).
func controlSocket(rc rawControl, backend string, top Section) (string, error) {
	if rc.Socket == "" {
		return "", nil
	}
	if backend != BackendPostgres {
		sec := Section{Path: "control", Node: childNode(top.Node, "control")}
		return "", sec.Errorf("socket", "is a setting of state.backend %s; with backend %s the socket is beside the state file (state.path + .sock)",
			BackendPostgres, BackendBbolt)
	}
	return top.Resolve(rc.Socket), nil
}

// controlToken reads control.token_file (empty when unset).
func controlToken(rc rawControl, root *yaml.Node, baseDir string, ws *Warnings) (Secret, error) {
	sec := Section{Path: "control", Node: childNode(root, "control"), BaseDir: baseDir, Warnings: ws}
	return sec.Secret("token", "", rc.TokenFile, false)
}

// controlListen checks control.listen: host:port, and only with a token.
func controlListen(rc rawControl, root *yaml.Node) (string, error) {
	if rc.Listen == "" {
		return "", nil
	}
	sec := Section{Path: "control", Node: childNode(root, "control")}
	if _, _, err := net.SplitHostPort(rc.Listen); err != nil {
		return "", sec.Errorf("listen", "%q is not host:port", rc.Listen)
	}
	if rc.TokenFile == "" {
		return "", sec.Errorf("listen", "needs control.token_file: the control API over HTTP answers only with the bearer token")
	}
	return rc.Listen, nil
}
