package file

import (
	"bytes"
	"encoding/json"
)

// Ownership marker: every file the sink writes says that rotator wrote it,
// in a way the file's readers ignore, so that a first write does not take
// over a file rotator does not own (sinks.ErrNotOwned):
//   - an env file starts with the comment line envMarker (sh, Docker's
//     --env-file and systemd's EnvironmentFile skip comments);
//   - a JSON file holds the field "_managed_by": "rotator" (MarkerField),
//     which Read leaves out and which a key's own fields may not use.
const (
	envMarkerPrefix = "# managed-by=rotator"
	envMarker       = envMarkerPrefix + ": written by rotator, rewritten at each rotation\n"
	// MarkerField is the JSON field that marks a file as rotator's.
	MarkerField = "_managed_by"
	markerValue = "rotator"
)

// ownedFile reports whether b is a file rotator wrote, in either format
// (the target's format may have changed since).
func ownedFile(b []byte) bool {
	if bytes.HasPrefix(b, []byte(envMarkerPrefix)) {
		return true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return false
	}
	var v string
	return json.Unmarshal(m[MarkerField], &v) == nil && v == markerValue
}

// markerDescription names the marker a file of format f lacks, for
// sinks.NotOwned.
func markerDescription(f Format) string {
	if f == FormatEnv {
		return "marker line \"" + envMarkerPrefix + "\""
	}
	return "marker field \"" + MarkerField + "\": \"" + markerValue + "\""
}
