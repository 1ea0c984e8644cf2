package config

import (
	"sort"
	"strconv"
	"strings"

	"github.com/robfig/cron/v3"
)

// interner shares equal values between keys: a fleet of 10,000 keys
// usually has a handful of distinct params and schedules, and each small
// map or parsed schedule costs a few hundred bytes. Shared values are
// read-only: nothing changes a Key's Params or Schedule after Load.
type interner struct {
	params    map[string]map[string]string
	schedules map[string]cron.Schedule
}

func newInterner() *interner {
	return &interner{params: map[string]map[string]string{}, schedules: map[string]cron.Schedule{}}
}

// paramsOf returns the shared map equal to m.
func (in *interner) paramsOf(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Each string is length-prefixed, so no content (a YAML scalar may
	// hold any character, "\0" included) makes two maps encode alike.
	var b strings.Builder
	for _, k := range keys {
		for _, v := range []string{k, m[k]} {
			b.WriteString(strconv.Itoa(len(v)))
			b.WriteByte(':')
			b.WriteString(v)
		}
	}
	id := b.String()
	if shared, ok := in.params[id]; ok {
		return shared
	}
	in.params[id] = m
	return m
}

// schedule parses spec once per distinct spec.
func (in *interner) schedule(spec string) (cron.Schedule, error) {
	if s, ok := in.schedules[spec]; ok {
		return s, nil
	}
	s, err := ParseSchedule(spec)
	if err == nil {
		in.schedules[spec] = s
	}
	return s, err
}
