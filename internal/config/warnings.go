package config

import (
	"errors"
	"fmt"
	"io/fs"
	"sync"
)

// Warning is something in the policy that works but should be fixed, such
// as a secret file that other users can read.
type Warning struct {
	// Path is the YAML path ("providers.smtpd.password_file") and Line
	// its line, when known.
	Path string
	Line int
	Msg  string
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s (line %d): %s", w.Path, w.Line, w.Msg)
	}
	return w.Path + ": " + w.Msg
}

// Warnings collects the warnings of one policy, from Load and from the
// backends decoding its sections; it is safe for concurrent use. A nil
// *Warnings drops them.
type Warnings struct {
	mu   sync.Mutex
	list []Warning
	// offline: a missing secret file is a warning (LoadOptions.Offline).
	offline bool
}

// Add records w (the backends' cross-checks in internal/wire use it).
func (ws *Warnings) Add(w Warning) { ws.add(w) }

func (ws *Warnings) add(w Warning) {
	if ws == nil {
		return
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.list = append(ws.list, w)
}

// List returns the warnings in the order they were found.
func (ws *Warnings) List() []Warning {
	if ws == nil {
		return nil
	}
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return append([]Warning(nil), ws.list...)
}

// Warnf records a warning about the named field of this section.
func (s Section) Warnf(name, format string, args ...any) {
	s.Warnings.add(s.warning(name, format, args...))
}

func (s Section) warning(name, format string, args ...any) Warning {
	fe := s.Errorf(name, format, args...)
	return Warning{Path: fe.Path, Line: fe.Line, Msg: fe.Err.Error()}
}

// offlineMissing reports whether err is a secret file that does not exist
// while the policy is loaded offline; it then records the warning.
func (s Section) offlineMissing(field, path string, err error) bool {
	if err == nil || s.Warnings == nil || !s.Warnings.offline || !errors.Is(err, fs.ErrNotExist) {
		return false
	}
	s.Warnf(field, "secret file %s does not exist here (offline: not read)", path)
	return true
}
