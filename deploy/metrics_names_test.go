package deploy

import (
	"reflect"
	"testing"
)

func TestReferencedMetrics(t *testing.T) {
	for expr, want := range map[string][]string{
		`up{job="rotator"} == 0`:    {"up"},
		`absent(up{job="rotator"})`: {"up"},
		`histogram_quantile(0.9, sum by (le) (rate(rotator_rotation_duration_seconds_bucket[5m])))`:                                {"rotator_rotation_duration_seconds_bucket"},
		`sum by (key) (increase(rotator_keepalives_total{result="rotator_fake"}[1d])) unless on (key) rotator_pending_revocations`: {"rotator_keepalives_total", "rotator_pending_revocations"},
		`time() - rotator_key_created_timestamp_seconds > 0`:                                                                       {"rotator_key_created_timestamp_seconds"},
	} {
		if got := referencedMetrics(expr); !reflect.DeepEqual(got, want) {
			t.Errorf("referencedMetrics(%q) = %q, want %q", expr, got, want)
		}
	}
	if got := unknownMetrics(`rate(rotator_rotations_totl[5m]) + rotator_rotation_duration_seconds_count + rotator_build_info_count`); !reflect.DeepEqual(got, []string{"rotator_build_info_count", "rotator_rotations_totl"}) {
		t.Errorf("unknownMetrics = %q", got)
	}
}
