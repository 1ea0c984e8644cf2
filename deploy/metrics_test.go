package deploy

import (
	"regexp"
	"sort"
	"strings"
)

// knownMetrics is the daemon's metric contract (internal/rotate), the only
// names that the alert rules and the dashboard may use. The end-to-end test
// checks it against what the daemon really exports, so a rename on either
// side fails a test instead of silencing an alert.
var knownMetrics = map[string]string{
	"rotator_rotations_total":                            "counter",
	"rotator_rotation_duration_seconds":                  "histogram",
	"rotator_last_rotation_success_timestamp_seconds":    "gauge",
	"rotator_next_rotation_timestamp_seconds":            "gauge",
	"rotator_key_created_timestamp_seconds":              "gauge",
	"rotator_key_last_used_timestamp_seconds":            "gauge",
	"rotator_key_inactivity_deadline_timestamp_seconds":  "gauge",
	"rotator_keepalives_total":                           "counter",
	"rotator_last_keepalive_success_timestamp_seconds":   "gauge",
	"rotator_revocations_total":                          "counter",
	"rotator_pending_revocations":                        "gauge",
	"rotator_revocation_deadline_timestamp_seconds":      "gauge",
	"rotator_key_consecutive_failures":                   "gauge",
	"rotator_key_paused":                                 "gauge",
	"rotator_emergency_rotations_total":                  "counter",
	"rotator_sink_writes_total":                          "counter",
	"rotator_provider_requests_total":                    "counter",
	"rotator_provider_request_duration_seconds":          "histogram",
	"rotator_orphaned_keys":                              "gauge",
	"rotator_superseded_key_last_used_timestamp_seconds": "gauge",
	"rotator_hook_runs_total":                            "counter",
	"rotator_hook_duration_seconds":                      "histogram",
	"rotator_build_info":                                 "gauge",

	// Policy reloads and leadership.
	"rotator_config_last_reload_successful":                "gauge",
	"rotator_config_last_reload_success_timestamp_seconds": "gauge",
	"rotator_leader": "gauge",

	// Prometheus's own, per scrape target.
	"up": "gauge",
}

// metricName matches what can be a metric name in PromQL. Label names,
// functions and keywords match too; referencedMetrics keeps only names
// that are not followed by "(" and that look like ours.
var metricName = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)

// referencedMetrics returns the metric names that expr selects: every
// identifier starting with "rotator_", and "up" when it is selected. The
// names of a histogram's series (_bucket, _sum, _count) map to the family.
func referencedMetrics(expr string) []string {
	// Label matchers' values and strings can hold anything: drop them.
	expr = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`).ReplaceAllString(expr, `""`)
	seen := map[string]bool{}
	for _, loc := range metricName.FindAllStringIndex(expr, -1) {
		name := expr[loc[0]:loc[1]]
		rest := strings.TrimLeft(expr[loc[1]:], " ")
		if strings.HasPrefix(rest, "(") {
			continue // a function call
		}
		if name == "up" || strings.HasPrefix(name, "rotator_") {
			seen[name] = true
		}
	}
	out := make([]string, 0, len(seen))
	for name := range seen {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// family maps a series name to its metric family: a histogram's _bucket,
// _sum and _count series belong to it.
func family(name string) string {
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if ok && knownMetrics[base] == "histogram" {
			return base
		}
	}
	return name
}

// unknownMetrics returns the names in expr that are not in the contract.
func unknownMetrics(expr string) []string {
	var bad []string
	for _, name := range referencedMetrics(expr) {
		if _, ok := knownMetrics[family(name)]; !ok {
			bad = append(bad, name)
		}
	}
	return bad
}
