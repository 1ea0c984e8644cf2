package awstest

import (
	"sort"
	"time"
)

// SecretInfo describes a secret, for assertions.
type SecretInfo struct {
	Name, ARN, KMSKeyID, Description string
	Tags                             []Tag
}

// SecretVersion is one version of a secret, for assertions.
type SecretVersion struct {
	VersionID string
	Value     string // SecretString ("" for a binary secret)
	Stages    []string
	Created   time.Time
}

// Secret describes the secret named by a name or ARN.
func (s *Server) Secret(id string) (SecretInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, aerr := s.findSecret(id)
	if aerr != nil {
		return SecretInfo{}, false
	}
	return SecretInfo{Name: sec.name, ARN: sec.arn, KMSKeyID: sec.kmsKeyID, Description: sec.description,
		Tags: append([]Tag(nil), sec.tags...)}, true
}

// SecretVersions lists the versions of a secret, oldest first; nil when
// the secret does not exist.
func (s *Server) SecretVersions(id string) []SecretVersion {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, aerr := s.findSecret(id)
	if aerr != nil {
		return nil
	}
	out := make([]SecretVersion, 0, len(sec.versions))
	for _, v := range sec.versions {
		sv := SecretVersion{VersionID: v.id, Stages: append([]string(nil), v.stages...), Created: v.created}
		sort.Strings(sv.Stages)
		if v.str != nil {
			sv.Value = *v.str
		}
		out = append(out, sv)
	}
	return out
}

// SecretStages maps each staging label of a secret to the version holding
// it.
func (s *Server) SecretStages(id string) map[string]string {
	out := map[string]string{}
	for _, v := range s.SecretVersions(id) {
		for _, l := range v.Stages {
			out[l] = v.VersionID
		}
	}
	return out
}

// SecretValue returns the SecretString of the version holding label.
func (s *Server) SecretValue(id, label string) (string, bool) {
	for _, v := range s.SecretVersions(id) {
		for _, l := range v.Stages {
			if l == label {
				return v.Value, true
			}
		}
	}
	return "", false
}

// CreateSecret creates a secret directly (no request) with the tags given,
// empty when value is "", and returns its ARN.
func (s *Server) CreateSecret(name, value string, tags ...Tag) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Clock.Now()
	sec := &secret{name: name, arn: "arn:aws:secretsmanager:" + s.cfg.Region + ":" + s.cfg.AccountID + ":secret:" + name + "-" + randomSuffix(),
		created: now, changed: now, tags: mergeTags(nil, tags)}
	s.secrets = append(s.secrets, sec)
	if value != "" {
		s.addVersion(sec, newToken(), &value, nil, nil)
	}
	return sec.arn
}

// PutSecretValue writes a new version directly, as another writer would
// with PutSecretValue (no stages given: AWSCURRENT moves to it), and
// returns its version id. The secret must exist.
func (s *Server) PutSecretValue(id, value string, stages ...string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, aerr := s.findSecret(id)
	if aerr != nil {
		panic("awstest: PutSecretValue: " + aerr.Error())
	}
	if len(stages) == 0 {
		stages = nil
	}
	return s.addVersion(sec, newToken(), &value, nil, stages).id
}

// Parameter is one version of an SSM parameter, for assertions.
type Parameter struct {
	Name    string
	Type    string
	Value   string // plaintext, also for SecureString
	Version int64
	KeyID   string
	Tier    string
}

// Parameter returns the latest version of a parameter.
func (s *Server) Parameter(name string) (Parameter, bool) {
	h := s.ParameterHistory(name)
	if len(h) == 0 {
		return Parameter{}, false
	}
	return h[len(h)-1], true
}

// ParameterHistory lists the kept versions of a parameter, oldest first.
func (s *Server) ParameterHistory(name string) []Parameter {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.params[name]
	if p == nil {
		return nil
	}
	out := make([]Parameter, 0, len(p.versions))
	for _, v := range p.versions {
		out = append(out, Parameter{Name: name, Type: v.typ, Value: v.value, Version: v.version, KeyID: v.keyID, Tier: v.tier})
	}
	return out
}

// SetParameter writes a parameter directly, as another writer would with
// PutParameter Overwrite=true, and returns the new version.
func (s *Server) SetParameter(name, typ, value string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.params[name]
	var version int64 = 1
	if p == nil {
		p = &parameter{name: name}
		s.params[name] = p
	} else {
		version = p.latest().version + 1
	}
	keyID := ""
	if typ == "SecureString" {
		keyID = "alias/aws/ssm"
	}
	p.versions = append(p.versions, &paramVersion{version: version, typ: typ, value: value, keyID: keyID, tier: "Standard", modified: s.cfg.Clock.Now()})
	return version
}

// MoveStage attaches label to versionID directly, as another caller of
// UpdateSecretVersionStage would (AWSCURRENT takes AWSPREVIOUS along).
func (s *Server) MoveStage(id, label, versionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, aerr := s.findSecret(id)
	if aerr != nil {
		panic("awstest: MoveStage: " + aerr.Error())
	}
	v := sec.version(versionID)
	if v == nil {
		panic("awstest: MoveStage: no version " + versionID)
	}
	sec.attach(v, label)
}
