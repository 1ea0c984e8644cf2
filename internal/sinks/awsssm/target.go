package awsssm

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/ssm/types"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/config"
	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

// maxNames is GetParameters' limit of names per call.
const maxNames = 10

// Target is the parameter(s) one key is written to.
type Target struct {
	sink *Sink
	cfg  TargetConfig
	// paramsField locates the target's parameters field for CheckFields'
	// errors; the YAML node itself is not kept (the wiring drops the
	// policy's nodes once every target is bound).
	paramsField config.FieldError
	// yamlPath is the target's YAML path ("keys[0].sinks[1]"), for the
	// error that says how to adopt parameters rotator did not create.
	yamlPath string
}

// log is the sink's logger with the target's parameter(s), built per line
// rather than kept per target, so that an idle target holds no logger.
func (t *Target) log() *zap.Logger { return t.sink.Log.With(zap.String("parameter", t.describe())) }

func (t *Target) paramsErrorf(format string, args ...any) error {
	fe := t.paramsField
	fe.Err = fmt.Errorf(format, args...)
	return &fe
}

var _ sinks.Target = (*Target)(nil)

// String implements sinks.Target.
func (t *Target) String() string { return Type + " " + t.describe() }

func (t *Target) describe() string {
	if t.cfg.Parameter != "" {
		return t.cfg.Parameter
	}
	return strings.Join(t.names(), ",")
}

// names lists the target's parameters, sorted.
func (t *Target) names() []string {
	if t.cfg.Parameter != "" {
		return []string{t.cfg.Parameter}
	}
	out := make([]string, 0, len(t.cfg.Parameters))
	for _, n := range t.cfg.Parameters {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// CheckFields reports, as a configuration error naming the target's
// `parameters`, a field of the credential that no parameter is mapped to,
// or a mapped field the credential does not have. Write runs the same
// check; the wiring may call it early when it knows the field names.
func (t *Target) CheckFields(fields []string) error {
	if t.cfg.Parameter != "" {
		return nil
	}
	have := map[string]bool{}
	for _, f := range fields {
		have[f] = true
		if _, ok := t.cfg.Parameters[f]; !ok {
			return t.paramsErrorf("field %q is not mapped to a parameter (with parameters, every field must be)", f)
		}
	}
	mapped := make([]string, 0, len(t.cfg.Parameters))
	for f := range t.cfg.Parameters {
		mapped = append(mapped, f)
	}
	sort.Strings(mapped)
	for _, f := range mapped {
		if !have[f] {
			return t.paramsErrorf("field %q is mapped to %s but the credential has no such field", f, t.cfg.Parameters[f])
		}
	}
	return nil
}

// values maps each parameter name to the value it must hold.
func (t *Target) values(data sinks.Secret) (map[string]string, error) {
	if t.cfg.Parameter != "" {
		b, err := json.Marshal(map[string]string(data))
		if err != nil {
			return nil, fmt.Errorf("encode: %w", err)
		}
		return map[string]string{t.cfg.Parameter: string(b)}, nil
	}
	fields := make([]string, 0, len(data))
	for f := range data {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	if err := t.CheckFields(fields); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for f, name := range t.cfg.Parameters {
		out[name] = data[f]
	}
	return out, nil
}

func (t *Target) fail(op, param string, err error, data sinks.Secret) error {
	return awsapi.NewCallError(op, param, err, data)
}

// fetch reads the named parameters with decryption; missing ones are
// listed, not an error.
func (t *Target) fetch(ctx context.Context, names []string) (map[string]types.Parameter, []string, error) {
	found := map[string]types.Parameter{}
	var missing []string
	for start := 0; start < len(names); start += maxNames {
		batch := names[start:min(start+maxNames, len(names))]
		out, err := t.sink.Client.GetParameters(ctx, &ssm.GetParametersInput{Names: batch, WithDecryption: aws.Bool(true)})
		if err != nil {
			return nil, nil, t.fail("get parameters", strings.Join(batch, ","), err, nil)
		}
		for _, p := range out.Parameters {
			found[aws.ToString(p.Name)] = p
		}
		missing = append(missing, out.InvalidParameters...)
	}
	return found, missing, nil
}

// Write puts each parameter as a SecureString (Overwrite), skipping those
// that already hold the value, and returns the versions: "7" for a single
// parameter, "/a:7,/b:3" (sorted by name) for one per field. With
// parameters, a field that is not mapped (or a mapped field that is absent)
// is a configuration error and nothing is written.
func (t *Target) Write(ctx context.Context, w sinks.Write) (string, error) {
	want, err := t.values(w.Data)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", t.describe(), err)
	}
	names := t.names()
	current, _, err := t.fetch(ctx, names)
	if err != nil {
		return "", err
	}
	var pending []string
	for _, name := range names {
		cur, ok := current[name]
		if !ok || cur.Type != types.ParameterTypeSecureString || aws.ToString(cur.Value) != want[name] {
			pending = append(pending, name)
		}
	}
	if len(pending) > 0 {
		if err := t.claim(ctx, current); err != nil {
			return "", err
		}
	}
	versions := make([]string, 0, len(names))
	for _, name := range names {
		cur, ok := current[name]
		if !slices.Contains(pending, name) {
			versions = append(versions, name+":"+strconv.FormatInt(cur.Version, 10))
			continue
		}
		v, err := t.put(ctx, name, want[name], ok, w.Data)
		if err != nil {
			return "", err
		}
		versions = append(versions, name+":"+strconv.FormatInt(v, 10))
	}
	if t.cfg.Parameter != "" {
		_, v, _ := strings.Cut(versions[0], ":")
		return v, nil
	}
	return strings.Join(versions, ","), nil
}

// put writes one parameter: over an existing one with Overwrite (its tags
// stay), or as a new one with the tag managed-by=rotator (PutParameter
// takes Tags only without Overwrite).
func (t *Target) put(ctx context.Context, name, value string, exists bool, data sinks.Secret) (int64, error) {
	in := &ssm.PutParameterInput{
		Name:  aws.String(name),
		Value: aws.String(value),
		Type:  types.ParameterTypeSecureString,
	}
	if exists {
		in.Overwrite = aws.Bool(true)
	} else {
		in.Tags = []types.Tag{ownerTag()}
	}
	if t.cfg.KMSKeyID != "" {
		in.KeyId = aws.String(t.cfg.KMSKeyID)
	}
	out, err := t.sink.Client.PutParameter(ctx, in)
	if !exists && awsapi.ErrorCode(err) == "ParameterAlreadyExists" {
		// Created meanwhile (by a concurrent write of this same target,
		// or by someone else): overwrite it only if it is rotator's.
		if err := t.claim(ctx, map[string]types.Parameter{name: {}}); err != nil {
			return 0, err
		}
		return t.put(ctx, name, value, true, data)
	}
	if err != nil {
		return 0, t.fail("put parameter", name, err, data)
	}
	t.log().Debug("wrote parameter", zap.String("name", name), zap.Int64("version", out.Version))
	return out.Version, nil
}

// Read reads the parameter(s) with decryption. A target none of whose
// parameters exists is sinks.ErrNotFound; with parameters, a partly
// missing set is also sinks.ErrNotFound, naming the missing ones.
func (t *Target) Read(ctx context.Context) (sinks.Secret, error) {
	names := t.names()
	found, missing, err := t.fetch(ctx, names)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("read %s: parameter %s does not exist: %w", t.describe(), strings.Join(missing, ","), sinks.ErrNotFound)
	}
	if t.cfg.Parameter != "" {
		p := found[t.cfg.Parameter]
		var data map[string]string
		if json.Unmarshal([]byte(aws.ToString(p.Value)), &data) != nil || data == nil {
			return nil, fmt.Errorf("read %s: version %d is not a JSON object of strings", t.cfg.Parameter, p.Version)
		}
		return sinks.Secret(data), nil
	}
	out := sinks.Secret{}
	for f, name := range t.cfg.Parameters {
		out[f] = aws.ToString(found[name].Value)
	}
	return out, nil
}
