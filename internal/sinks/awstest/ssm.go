package awstest

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// maxParameterVersions is how many versions Parameter Store keeps; older
// ones are deleted as new ones are written.
const maxParameterVersions = 100

type parameter struct {
	name     string
	tags     []Tag
	versions []*paramVersion // oldest first
}

type paramVersion struct {
	version  int64
	typ      string
	value    string
	keyID    string
	tier     string
	modified time.Time
}

func (p *parameter) latest() *paramVersion { return p.versions[len(p.versions)-1] }

var paramNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.\-/]+$`)

// checkParamName applies Parameter Store's naming rules.
func checkParamName(name string) *apiError {
	switch {
	case name == "":
		return errorf("ValidationException", "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
	case len(name) > 2048:
		return errorf("ValidationException", "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length less than or equal to 2048")
	case !paramNameRE.MatchString(name):
		return errorf("ValidationException", "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_")
	case strings.Contains(name, "/") && !strings.HasPrefix(name, "/"):
		return errorf("ValidationException", "Parameter name must be a fully qualified name.")
	case strings.HasSuffix(name, "/") || strings.Contains(name, "//"):
		return errorf("ValidationException", "Parameter name must be a fully qualified name.")
	}
	first := strings.ToLower(strings.TrimPrefix(name, "/"))
	if strings.HasPrefix(first, "aws") || strings.HasPrefix(first, "ssm") {
		return errorf("ValidationException", "No access to reserved parameter name: %s.", name)
	}
	if strings.Count(name, "/") > 15 {
		return errorf("HierarchyLevelLimitExceededException", "A hierarchy can have a maximum of 15 levels. The parameter name %s has more levels.", name)
	}
	return nil
}

func (s *Server) paramARN(name string) string {
	return fmt.Sprintf("arn:aws:ssm:%s:%s:parameter/%s", s.cfg.Region, s.cfg.AccountID, strings.TrimPrefix(name, "/"))
}

// ciphertext stands in for a KMS-encrypted SecureString: opaque, stable
// for the same value and key, and never the plaintext.
func ciphertext(v *paramVersion) string {
	sum := sha256.Sum256([]byte(v.keyID + "\x00" + v.value))
	return base64.StdEncoding.EncodeToString(append([]byte{0x01, 0x02, 0x02, 0x00}, sum[:]...))
}

// putParameterInput is PutParameter's request.
type putParameterInput struct {
	Name           string
	Value          *string
	Type           string
	KeyId          string
	Overwrite      bool
	Tier           string
	DataType       string
	Description    string
	AllowedPattern string
	Tags           []Tag
}

func (s *Server) putParameter(body []byte) (any, *apiError) {
	var in putParameterInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	tier, aerr := checkPutParameter(in)
	if aerr != nil {
		return nil, aerr
	}
	p := s.params[in.Name]
	if p == nil && in.Type == "" {
		return nil, errorf("ValidationException", "A parameter type is required when you create a parameter.")
	}
	if p != nil {
		if !in.Overwrite {
			return nil, errorf("ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.")
		}
		if in.Type != "" && in.Type != p.latest().typ {
			return nil, errorf("HierarchyTypeMismatchException", "Parameter Store does not support changing a parameter type in a hierarchy. For example, you can't change a parameter from a String type to a SecureString type. You must create a new, unique parameter.")
		}
	}
	typ, keyID := in.Type, in.KeyId
	var version int64 = 1
	if p != nil {
		last := p.latest()
		typ = last.typ
		version = last.version + 1
		if keyID == "" && typ == "SecureString" && in.Type == "" {
			keyID = last.keyID
		}
		if tier == "Standard" && last.tier == "Advanced" {
			tier = "Advanced" // an advanced parameter can't go back to standard
		}
	} else {
		p = &parameter{name: in.Name, tags: mergeTags(nil, in.Tags)}
		s.params[in.Name] = p
	}
	if typ == "SecureString" && keyID == "" {
		keyID = "alias/aws/ssm"
	}
	p.versions = append(p.versions, &paramVersion{
		version: version, typ: typ, value: *in.Value, keyID: keyID, tier: tier, modified: s.cfg.Clock.Now(),
	})
	if len(p.versions) > maxParameterVersions {
		p.versions = p.versions[len(p.versions)-maxParameterVersions:]
	}
	return map[string]any{"Version": version, "Tier": tier}, nil
}

// checkPutParameter validates a PutParameter request on its own, without
// the stored parameter, and returns the tier it asks for: Standard or
// Advanced.
func checkPutParameter(in putParameterInput) (string, *apiError) {
	if aerr := checkParamName(in.Name); aerr != nil {
		return "", aerr
	}
	if in.Value == nil {
		return "", errorf("ValidationException", "1 validation error detected: Value null at 'value' failed to satisfy constraint: Member must not be null")
	}
	if len(*in.Value) == 0 {
		return "", errorf("ValidationException", "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	switch in.Type {
	case "", "String", "StringList", "SecureString":
	default:
		return "", errorf("ValidationException", "1 validation error detected: Value '%s' at 'type' failed to satisfy constraint: Member must satisfy enum value set: [SecureString, StringList, String]", in.Type)
	}
	if in.KeyId != "" && in.Type != "" && in.Type != "SecureString" {
		return "", errorf("ValidationException", "KeyId is only supported for the SecureString parameter type.")
	}
	tier := in.Tier
	switch tier {
	case "", "Standard":
		tier = "Standard"
		if len(*in.Value) > 4096 {
			return "", errorf("ValidationException", "Standard tier parameters support a maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the advanced-parameter tier.")
		}
	case "Advanced", "Intelligent-Tiering":
		tier = "Advanced"
		if len(*in.Value) > 8192 {
			return "", errorf("ValidationException", "1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length less than or equal to 8192")
		}
	default:
		return "", errorf("ValidationException", "1 validation error detected: Value '%s' at 'tier' failed to satisfy constraint: Member must satisfy enum value set: [Advanced, Intelligent-Tiering, Standard]", in.Tier)
	}
	if aerr := checkTags(in.Tags); aerr != nil {
		return "", aerr
	}
	if len(in.Tags) > maxTags {
		return "", errorf("TooManyTagsError", "")
	}
	if in.Overwrite && len(in.Tags) > 0 {
		return "", errorf("ValidationException", "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.")
	}
	return tier, nil
}

// lookupParam resolves "name" or "name:version".
func (s *Server) lookupParam(ref string) (*parameter, *paramVersion, string, *apiError) {
	name, sel, hasSel := strings.Cut(ref, ":")
	if aerr := checkParamName(name); aerr != nil {
		return nil, nil, "", aerr
	}
	p := s.params[name]
	if p == nil {
		return nil, nil, "", errorf("ParameterNotFound", "")
	}
	if !hasSel {
		return p, p.latest(), "", nil
	}
	n, err := strconv.ParseInt(sel, 10, 64)
	if err != nil {
		return nil, nil, "", errorf("ParameterNotFound", "") // labels are not modelled
	}
	for _, v := range p.versions {
		if v.version == n {
			return p, v, ":" + sel, nil
		}
	}
	return nil, nil, "", errorf("ParameterVersionNotFound", "Systems Manager could not find version %d of %s. Verify the version and try again.", n, name)
}

func (s *Server) renderParam(p *parameter, v *paramVersion, selector string, decrypt bool) map[string]any {
	value := v.value
	if v.typ == "SecureString" && !decrypt {
		value = ciphertext(v)
	}
	out := map[string]any{
		"Name":             p.name,
		"Type":             v.typ,
		"Value":            value,
		"Version":          v.version,
		"LastModifiedDate": epoch(v.modified),
		"ARN":              s.paramARN(p.name),
		"DataType":         "text",
	}
	if selector != "" {
		out["Selector"] = selector
	}
	return out
}

func (s *Server) getParameter(body []byte) (any, *apiError) {
	var in struct {
		Name           string
		WithDecryption bool
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	p, v, sel, aerr := s.lookupParam(in.Name)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"Parameter": s.renderParam(p, v, sel, in.WithDecryption)}, nil
}

func (s *Server) getParameters(body []byte) (any, *apiError) {
	var in struct {
		Names          []string
		WithDecryption bool
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if len(in.Names) < 1 || len(in.Names) > 10 {
		return nil, errorf("ValidationException", "1 validation error detected: Value '%v' at 'names' failed to satisfy constraint: Member must have length less than or equal to 10", in.Names)
	}
	params := []map[string]any{}
	invalid := []string{}
	for _, ref := range in.Names {
		p, v, sel, aerr := s.lookupParam(ref)
		switch {
		case aerr == nil:
			params = append(params, s.renderParam(p, v, sel, in.WithDecryption))
		case aerr.code == "ParameterNotFound" || aerr.code == "ParameterVersionNotFound":
			invalid = append(invalid, ref)
		default:
			return nil, aerr
		}
	}
	return map[string]any{"Parameters": params, "InvalidParameters": invalid}, nil
}
