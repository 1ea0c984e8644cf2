package awstest

import "strings"

// Tags, as both services keep them: at most 50 per resource, keys of 1 to
// 128 characters and values of at most 256, the aws: prefix reserved;
// adding a key that is already there replaces its value.
//
//	secretsmanager.TagResource   {SecretId, Tags: [{Key, Value}]} → {}
//	  (CreateSecret takes Tags too; DescribeSecret returns them)
//	AmazonSSM.AddTagsToResource  {ResourceType, ResourceId, Tags} → {}
//	AmazonSSM.ListTagsForResource {ResourceType, ResourceId} → {TagList}
//	  (PutParameter takes Tags when it creates a parameter, never with
//	  Overwrite)
//
// For SSM only ResourceType "Parameter" is modelled; its ResourceId is the
// parameter's name, and an unknown one is InvalidResourceId.

const maxTags = 50

// checkTags validates tags to add; the code of a bad key differs by
// service (Secrets Manager: ValidationException, SSM: ValidationException
// too, with its own text).
func checkTags(tags []Tag) *apiError {
	for _, t := range tags {
		switch {
		case len(t.Key) < 1 || len(t.Key) > 128:
			return errorf("ValidationException", "1 validation error detected: Value at 'tags.member.key' failed to satisfy constraint: Member must have length between 1 and 128")
		case len(t.Value) > 256:
			return errorf("ValidationException", "1 validation error detected: Value at 'tags.member.value' failed to satisfy constraint: Member must have length less than or equal to 256")
		case strings.HasPrefix(strings.ToLower(t.Key), "aws:"):
			return errorf("ValidationException", "Tag keys beginning with aws: are reserved.")
		}
	}
	return nil
}

// checkNewTags validates the tags of a new resource (CreateSecret).
func checkNewTags(tags []Tag) *apiError {
	if len(tags) > maxTags {
		return errorf("ValidationException", "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	return checkTags(tags)
}

// mergeTags adds tags to have, replacing the values of keys already there.
func mergeTags(have, add []Tag) []Tag {
	out := append([]Tag(nil), have...)
	for _, t := range add {
		found := false
		for i := range out {
			if out[i].Key == t.Key {
				out[i].Value, found = t.Value, true
			}
		}
		if !found {
			out = append(out, t)
		}
	}
	return out
}

func (s *Server) tagResource(body []byte) (any, *apiError) {
	var in struct {
		SecretId string
		Tags     []Tag
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Tags == nil {
		return nil, errorf("ValidationException", "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	sec, aerr := s.findSecret(in.SecretId)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := checkTags(in.Tags); aerr != nil {
		return nil, aerr
	}
	merged := mergeTags(sec.tags, in.Tags)
	if len(merged) > maxTags {
		return nil, errorf("ValidationException", "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	sec.tags = merged
	return map[string]any{}, nil
}

// taggedParam resolves an SSM tagging request's resource.
func (s *Server) taggedParam(typ, id string) (*parameter, *apiError) {
	switch {
	case typ == "":
		return nil, errorf("ValidationException", "1 validation error detected: Value null at 'resourceType' failed to satisfy constraint: Member must not be null")
	case typ != "Parameter":
		return nil, errorf("InvalidResourceType", "")
	case id == "":
		return nil, errorf("ValidationException", "1 validation error detected: Value null at 'resourceId' failed to satisfy constraint: Member must not be null")
	}
	p := s.params[id]
	if p == nil {
		return nil, errorf("InvalidResourceId", "")
	}
	return p, nil
}

func (s *Server) addTagsToResource(body []byte) (any, *apiError) {
	var in struct {
		ResourceType string
		ResourceId   string
		Tags         []Tag
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	p, aerr := s.taggedParam(in.ResourceType, in.ResourceId)
	if aerr != nil {
		return nil, aerr
	}
	if aerr := checkTags(in.Tags); aerr != nil {
		return nil, aerr
	}
	merged := mergeTags(p.tags, in.Tags)
	if len(merged) > maxTags {
		return nil, errorf("TooManyTagsError", "")
	}
	p.tags = merged
	return map[string]any{}, nil
}

func (s *Server) listTagsForResource(body []byte) (any, *apiError) {
	var in struct {
		ResourceType string
		ResourceId   string
	}
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	p, aerr := s.taggedParam(in.ResourceType, in.ResourceId)
	if aerr != nil {
		return nil, aerr
	}
	return map[string]any{"TagList": append([]Tag{}, p.tags...)}, nil
}

// TagSecret adds tags to a secret directly (no request), as another
// caller of TagResource would.
func (s *Server) TagSecret(id string, tags ...Tag) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, aerr := s.findSecret(id)
	if aerr != nil {
		panic("awstest: TagSecret: " + aerr.Error())
	}
	sec.tags = mergeTags(sec.tags, tags)
}

// TagParameter adds tags to a parameter directly (no request).
func (s *Server) TagParameter(name string, tags ...Tag) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.params[name]
	if p == nil {
		panic("awstest: TagParameter: no parameter " + name)
	}
	p.tags = mergeTags(p.tags, tags)
}

// ParameterTags returns a parameter's tags; nil when it does not exist.
func (s *Server) ParameterTags(name string) []Tag {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.params[name]
	if p == nil {
		return nil
	}
	return append([]Tag{}, p.tags...)
}
