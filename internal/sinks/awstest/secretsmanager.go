package awstest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Staging labels with a meaning to Secrets Manager.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// maxDeprecated is how many unlabelled versions a secret keeps; AWS keeps
// about 100 and deletes the oldest deprecated ones beyond that.
const maxDeprecated = 100

type secret struct {
	name, arn, kmsKeyID, description string
	tags                             []Tag
	created, changed                 time.Time
	versions                         []*secretVersion // creation order
}

type secretVersion struct {
	id      string
	str     *string
	binary  []byte
	created time.Time
	stages  []string
}

// Tag is a Secrets Manager tag.
type Tag struct {
	Key   string `json:"Key"`
	Value string `json:"Value"`
}

var secretNameRE = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]+$`)

func (s *Server) findSecret(id string) (*secret, *apiError) {
	if id == "" {
		return nil, errorf("ValidationException", "1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member must not be null")
	}
	if len(id) > 2048 {
		return nil, errorf("ValidationException", "1 validation error detected: Value at 'secretId' failed to satisfy constraint: Member must have length less than or equal to 2048")
	}
	for _, sec := range s.secrets {
		if sec.name == id || sec.arn == id {
			return sec, nil
		}
		// A partial ARN leaves out the "-" and six random characters.
		if strings.HasPrefix(id, "arn:") && len(sec.arn) > 7 && sec.arn[:len(sec.arn)-7] == id {
			return sec, nil
		}
	}
	return nil, errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
}

func (sec *secret) version(id string) *secretVersion {
	for _, v := range sec.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

func (sec *secret) holder(label string) *secretVersion {
	for _, v := range sec.versions {
		if slices.Contains(v.stages, label) {
			return v
		}
	}
	return nil
}

func (v *secretVersion) removeStage(label string) {
	out := v.stages[:0]
	for _, l := range v.stages {
		if l != label {
			out = append(out, l)
		}
	}
	v.stages = out
}

// attach puts label on v, removing it from any other version; moving
// AWSCURRENT moves AWSPREVIOUS to the version it left.
func (sec *secret) attach(v *secretVersion, label string) {
	old := sec.holder(label)
	if old == v {
		return
	}
	if old != nil {
		old.removeStage(label)
	}
	v.stages = append(v.stages, label)
	if label == StageCurrent && old != nil {
		if prev := sec.holder(StagePrevious); prev != nil {
			prev.removeStage(StagePrevious)
		}
		old.stages = append(old.stages, StagePrevious)
	}
}

// prune drops the oldest deprecated (unlabelled) versions beyond the quota.
func (sec *secret) prune() {
	n := 0
	for _, v := range sec.versions {
		if len(v.stages) == 0 {
			n++
		}
	}
	out := sec.versions[:0]
	for _, v := range sec.versions {
		if len(v.stages) == 0 && n > maxDeprecated {
			n--
			continue
		}
		out = append(out, v)
	}
	sec.versions = out
}

func randomSuffix() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func newToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func (s *Server) addVersion(sec *secret, id string, str *string, bin []byte, stages []string) *secretVersion {
	now := s.cfg.Clock.Now()
	v := &secretVersion{id: id, str: str, binary: bin, created: now}
	first := len(sec.versions) == 0
	sec.versions = append(sec.versions, v)
	if stages == nil {
		stages = []string{StageCurrent}
	}
	if first && !slices.Contains(stages, StageCurrent) {
		stages = append(append([]string(nil), stages...), StageCurrent)
	}
	for _, l := range stages {
		sec.attach(v, l)
	}
	sec.changed = now
	sec.prune()
	return v
}

func (s *Server) createSecret(body []byte) (any, *apiError) {
	var in struct {
		Name               string
		ClientRequestToken *string
		Description        string
		KmsKeyId           string
		SecretString       *string
		SecretBinary       []byte
		Tags               []Tag
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	switch {
	case in.Name == "":
		return nil, errorf("ValidationException", "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	case len(in.Name) > 512:
		return nil, errorf("ValidationException", "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length less than or equal to 512")
	case !secretNameRE.MatchString(in.Name):
		return nil, errorf("ValidationException", "Invalid name. Must be a valid name containing alphanumeric characters, or any of the following: -/_+=.@!")
	}
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	if err := checkValue(in.SecretString, in.SecretBinary, false); err != nil {
		return nil, err
	}
	if aerr := checkNewTags(in.Tags); aerr != nil {
		return nil, aerr
	}
	for _, sec := range s.secrets {
		if sec.name == in.Name {
			return nil, errorf("ResourceExistsException", "The operation failed because the secret %s already exists.", in.Name)
		}
	}
	now := s.cfg.Clock.Now()
	sec := &secret{
		name:        in.Name,
		arn:         fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", s.cfg.Region, s.cfg.AccountID, in.Name, randomSuffix()),
		kmsKeyID:    in.KmsKeyId,
		description: in.Description,
		tags:        mergeTags(nil, in.Tags),
		created:     now,
		changed:     now,
	}
	s.secrets = append(s.secrets, sec)
	out := map[string]any{"ARN": sec.arn, "Name": sec.name}
	if in.SecretString != nil || in.SecretBinary != nil {
		id := newToken()
		if in.ClientRequestToken != nil {
			id = *in.ClientRequestToken
		}
		v := s.addVersion(sec, id, in.SecretString, in.SecretBinary, nil)
		out["VersionId"] = v.id
	}
	return out, nil
}

func (s *Server) describeSecret(body []byte) (any, *apiError) {
	var in struct{ SecretId string }
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, aerr := s.findSecret(in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	stages := map[string][]string{}
	for _, v := range sec.versions {
		if len(v.stages) > 0 {
			stages[v.id] = append([]string(nil), v.stages...)
		}
	}
	out := map[string]any{
		"ARN":                sec.arn,
		"Name":               sec.name,
		"CreatedDate":        epoch(sec.created),
		"LastChangedDate":    epoch(sec.changed),
		"RotationEnabled":    false,
		"VersionIdsToStages": stages,
	}
	if sec.description != "" {
		out["Description"] = sec.description
	}
	if sec.kmsKeyID != "" {
		out["KmsKeyId"] = sec.kmsKeyID
	}
	if len(sec.tags) > 0 {
		out["Tags"] = sec.tags
	}
	return out, nil
}

func (s *Server) getSecretValue(body []byte) (any, *apiError) {
	var in struct {
		SecretId     string
		VersionId    *string
		VersionStage *string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, aerr := s.findSecret(in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	var v *secretVersion
	switch {
	case in.VersionId != nil:
		if err := checkToken(in.VersionId); err != nil {
			err.message = strings.ReplaceAll(err.message, "clientRequestToken", "versionId")
			return nil, err
		}
		v = sec.version(*in.VersionId)
		if v == nil {
			return nil, errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s", *in.VersionId)
		}
		if in.VersionStage != nil && !slices.Contains(v.stages, *in.VersionStage) {
			return nil, errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: %s and staging label: %s", *in.VersionId, *in.VersionStage)
		}
	default:
		label := StageCurrent
		if in.VersionStage != nil {
			label = *in.VersionStage
		}
		v = sec.holder(label)
		if v == nil {
			return nil, errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret value for staging label: %s", label)
		}
	}
	out := map[string]any{
		"ARN":           sec.arn,
		"Name":          sec.name,
		"VersionId":     v.id,
		"VersionStages": append([]string{}, v.stages...),
		"CreatedDate":   epoch(v.created),
	}
	if v.str != nil {
		out["SecretString"] = *v.str
	} else {
		out["SecretBinary"] = v.binary
	}
	return out, nil
}

func (s *Server) putSecretValue(body []byte) (any, *apiError) {
	var in struct {
		SecretId           string
		ClientRequestToken *string
		SecretString       *string
		SecretBinary       []byte
		VersionStages      []string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	if err := checkValue(in.SecretString, in.SecretBinary, true); err != nil {
		return nil, err
	}
	if err := checkStages(in.VersionStages); err != nil {
		return nil, err
	}
	sec, aerr := s.findSecret(in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	id := newToken()
	if in.ClientRequestToken != nil {
		id = *in.ClientRequestToken
	}
	if v := sec.version(id); v != nil {
		same := (v.str != nil && in.SecretString != nil && *v.str == *in.SecretString) ||
			(v.binary != nil && in.SecretBinary != nil && bytes.Equal(v.binary, in.SecretBinary))
		if !same {
			return nil, errorf("ResourceExistsException", "You can't modify an existing version, you can only create a new version.")
		}
		// The same token and value: the request is ignored.
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": append([]string{}, v.stages...)}, nil
	}
	v := s.addVersion(sec, id, in.SecretString, in.SecretBinary, in.VersionStages)
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": append([]string{}, v.stages...)}, nil
}

func (s *Server) updateSecretVersionStage(body []byte) (any, *apiError) {
	var in struct {
		SecretId            string
		VersionStage        string
		MoveToVersionId     *string
		RemoveFromVersionId *string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.VersionStage == "" {
		return nil, errorf("ValidationException", "1 validation error detected: Value null at 'versionStage' failed to satisfy constraint: Member must not be null")
	}
	if err := checkToken(in.MoveToVersionId); err != nil {
		err.message = strings.ReplaceAll(err.message, "clientRequestToken", "moveToVersionId")
		return nil, err
	}
	if err := checkToken(in.RemoveFromVersionId); err != nil {
		err.message = strings.ReplaceAll(err.message, "clientRequestToken", "removeFromVersionId")
		return nil, err
	}
	sec, aerr := s.findSecret(in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	label := in.VersionStage
	holder := sec.holder(label)
	ok := map[string]any{"ARN": sec.arn, "Name": sec.name}
	if in.MoveToVersionId == nil {
		if in.RemoveFromVersionId == nil {
			return nil, errorf("InvalidParameterException", "You must specify MoveToVersionId or RemoveFromVersionId.")
		}
		if label == StageCurrent {
			return nil, errorf("InvalidParameterException", "You can only move staging label AWSCURRENT to a different secret version. It can't be completely removed.")
		}
		if holder == nil || holder.id != *in.RemoveFromVersionId {
			return nil, errorf("InvalidParameterException", "The staging label %s is not attached to version %s.", label, *in.RemoveFromVersionId)
		}
		holder.removeStage(label)
		sec.changed = s.cfg.Clock.Now()
		return ok, nil
	}
	target := sec.version(*in.MoveToVersionId)
	if target == nil {
		return nil, errorf("ResourceNotFoundException", "Secrets Manager can't find the specified secret version: %s", *in.MoveToVersionId)
	}
	switch {
	case holder != nil && holder != target && in.RemoveFromVersionId == nil:
		return nil, errorf("InvalidParameterException", "The parameter RemoveFromVersionId can't be empty. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", label, holder.id)
	case holder != nil && in.RemoveFromVersionId != nil && holder.id != *in.RemoveFromVersionId:
		return nil, errorf("InvalidParameterException", "The parameter RemoveFromVersionId doesn't match. Staging label %s is currently attached to version %s, so you must explicitly reference that version in RemoveFromVersionId.", label, holder.id)
	case holder == nil && in.RemoveFromVersionId != nil:
		return nil, errorf("InvalidParameterException", "The staging label %s is not attached to version %s.", label, *in.RemoveFromVersionId)
	}
	sec.attach(target, label)
	sec.changed = s.cfg.Clock.Now()
	sec.prune()
	return ok, nil
}

func (s *Server) listSecretVersionIds(body []byte) (any, *apiError) {
	var in struct {
		SecretId          string
		MaxResults        *int
		NextToken         *string
		IncludeDeprecated bool
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	max := 100
	if in.MaxResults != nil {
		if *in.MaxResults < 1 || *in.MaxResults > 100 {
			return nil, errorf("ValidationException", "1 validation error detected: Value at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100")
		}
		max = *in.MaxResults
	}
	sec, aerr := s.findSecret(in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	var list []*secretVersion
	for _, v := range sec.versions {
		if in.IncludeDeprecated || len(v.stages) > 0 {
			list = append(list, v)
		}
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].created.After(list[j].created) })
	start := 0
	if in.NextToken != nil {
		n, err := strconv.Atoi(strings.TrimPrefix(*in.NextToken, "v1:"))
		if err != nil || n < 0 || n > len(list) {
			return nil, errorf("InvalidNextTokenException", "The NextToken value is invalid.")
		}
		start = n
	}
	end := min(start+max, len(list))
	versions := []map[string]any{}
	for _, v := range list[start:end] {
		e := map[string]any{"VersionId": v.id, "CreatedDate": epoch(v.created), "KmsKeyIds": []string{"DefaultEncryptionKey"}}
		if len(v.stages) > 0 {
			e["VersionStages"] = append([]string(nil), v.stages...)
		}
		versions = append(versions, e)
	}
	out := map[string]any{"ARN": sec.arn, "Name": sec.name, "Versions": versions}
	if end < len(list) {
		out["NextToken"] = "v1:" + strconv.Itoa(end)
	}
	return out, nil
}
