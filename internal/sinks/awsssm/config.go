package awsssm

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

// Config is a `type: aws-ssm` sink section: the connection settings every
// AWS sink shares, documented with their YAML on awsapi.Config.
type Config = awsapi.Config

// TargetConfig is a key's target on this sink: exactly one of Parameter
// (one SecureString holding the JSON of the field map) or Parameters (one
// SecureString per field; every field must be mapped).
//
//	sinks:
//	  - {sink: ssm, parameter: /prod/mail/smtpd}
//	  - sink: ssm
//	    parameters: {api_key: /prod/mail/emailit-key, key_id: /prod/mail/emailit-key-id, ...}
//	    kms_key_id: alias/rotator
type TargetConfig struct {
	Parameter  string            `yaml:"parameter"`
	Parameters map[string]string `yaml:"parameters"`
	KMSKeyID   string            `yaml:"kms_key_id"`
	// Adopt lets a write replace parameters without the tag
	// managed-by=rotator (ones rotator did not create): it tags them
	// first, and they are rotator's from then on.
	Adopt bool `yaml:"adopt"`
}

// ParseConfig decodes and validates a sink section. It makes no network
// call.
func ParseConfig(sec config.Section) (Config, error) { return awsapi.ParseConfig(sec) }

var paramNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.\-/]+$`)

// checkName applies Parameter Store's naming rules.
func checkName(name string) error {
	switch {
	case len(name) > 1011 || !paramNameRE.MatchString(name):
		return fmt.Errorf("%q is not a valid parameter name (letters, digits and _.-/, at most 1011)", name)
	case strings.Contains(name, "/") && !strings.HasPrefix(name, "/"):
		return fmt.Errorf("%q: a hierarchical name must start with /", name)
	case strings.HasSuffix(name, "/") || strings.Contains(name, "//"):
		return fmt.Errorf("%q: empty path segment", name)
	case strings.Count(name, "/") > 15:
		return fmt.Errorf("%q: at most 15 levels", name)
	}
	first := strings.ToLower(strings.TrimPrefix(name, "/"))
	if strings.HasPrefix(first, "aws") || strings.HasPrefix(first, "ssm") {
		return fmt.Errorf("%q: names starting with aws or ssm are reserved", name)
	}
	return nil
}

// bind decodes a key's target (parameter or parameters, kms_key_id) into a
// Target of s. It makes no network call.
func bind(s *Sink, sec config.Section) (*Target, error) {
	var tc TargetConfig
	if err := sinks.DecodeTarget(sec, &tc); err != nil {
		return nil, err
	}
	switch {
	case tc.Parameter == "" && len(tc.Parameters) == 0:
		return nil, sec.Errorf("parameter", "one of parameter or parameters must be configured")
	case tc.Parameter != "" && len(tc.Parameters) > 0:
		return nil, sec.Errorf("parameters", "at most one of parameter & parameters must be configured")
	case tc.Parameter != "":
		if err := checkName(tc.Parameter); err != nil {
			return nil, sec.Field("parameter", err)
		}
	}
	fields := make([]string, 0, len(tc.Parameters))
	for f := range tc.Parameters {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	seen := map[string]string{}
	for _, f := range fields {
		name := tc.Parameters[f]
		if err := checkName(name); err != nil {
			return nil, sec.Field("parameters."+f, err)
		}
		if other, dup := seen[name]; dup {
			return nil, sec.Errorf("parameters."+f, "parameter %s is already used for field %s", name, other)
		}
		seen[name] = f
	}
	return &Target{sink: s, cfg: tc, paramsField: *sec.Field("parameters", nil), yamlPath: sec.Path}, nil
}
