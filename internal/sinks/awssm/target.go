package awssm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"go.uber.org/zap"

	"github.com/rotator-dev/rotator/internal/sinks"
	"github.com/rotator-dev/rotator/internal/sinks/awsapi"
)

// Staging labels.
const (
	stageCurrent = "AWSCURRENT"
	stagePending = "AWSPENDING"
)

// Target is one secret a key is written to. It implements sinks.Target,
// sinks.Promoter and sinks.PendingReader.
type Target struct {
	sink *Sink
	cfg  TargetConfig
	// yamlPath is the target's YAML path ("keys[0].sinks[1]"), for the
	// error that says how to adopt a secret rotator did not create.
	yamlPath string
}

// ownerTag marks a secret as rotator's (see sinks.ErrNotOwned).
const ownerTagKey, ownerTagValue = "managed-by", "rotator"

// log is the sink's logger with the target's secret_id. It is built per
// line (a few per rotation) rather than kept per target, so that an idle
// target holds no logger (docs/performance.md).
func (t *Target) log() *zap.Logger { return t.sink.Log.With(zap.String("secret_id", t.cfg.SecretID)) }

var (
	_ sinks.Target        = (*Target)(nil)
	_ sinks.Promoter      = (*Target)(nil)
	_ sinks.PendingReader = (*Target)(nil)
)

// String implements sinks.Target.
func (t *Target) String() string { return Type + " " + t.cfg.SecretID }

func (t *Target) fail(op string, err error, data sinks.Secret) error {
	return awsapi.NewCallError(op, t.cfg.SecretID, err, data)
}

var tokenRE = regexp.MustCompile(`^[A-Za-z0-9-]{32,64}$`)

// versionID is the ClientRequestToken, and so the VersionId, of a
// rotation's version: the rotation id itself when AWS accepts it (32 to 64
// letters, digits and hyphens, such as the engine's UUIDs), else a stable
// digest of it, so that any rotation id gives the same version on retry.
func versionID(rotationID string) (string, error) {
	if rotationID == "" {
		return "", errors.New("empty rotation id")
	}
	if tokenRE.MatchString(rotationID) {
		return rotationID, nil
	}
	sum := sha256.Sum256([]byte(rotationID))
	return "rotator-" + hex.EncodeToString(sum[:16]), nil
}

// Write stages the JSON of w.Data as a new version with ClientRequestToken
// (and so VersionId) derived from w.RotationID and the label AWSPENDING;
// it returns the version id. A retry with the same rotation id and data
// succeeds without a new version; the same rotation id with other data is
// sinks.ErrConflict. A missing secret is created when create is set, else
// it is an error naming it. On a secret's very first version AWS also
// attaches AWSCURRENT.
//
// Write notes which version is AWSCURRENT before it writes and checks it
// again after: if another writer moved AWSCURRENT meanwhile, it returns
// sinks.ErrConflict (the other value stays current; the staged version is
// harmless and a later retry of this Write is idempotent).
func (t *Target) Write(ctx context.Context, w sinks.Write) (string, error) {
	token, err := versionID(w.RotationID)
	if err != nil {
		return "", fmt.Errorf("write %s: %w", t.cfg.SecretID, err)
	}
	value, err := json.Marshal(map[string]string(w.Data))
	if err != nil {
		return "", fmt.Errorf("write %s: encode: %w", t.cfg.SecretID, err)
	}
	before, err := t.prepare(ctx)
	if err != nil {
		return "", err
	}
	out, err := t.sink.Client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(t.cfg.SecretID),
		ClientRequestToken: aws.String(token),
		SecretString:       aws.String(string(value)),
		VersionStages:      []string{stagePending},
	})
	if err != nil {
		if awsapi.ErrorCode(err) == "ResourceExistsException" {
			return "", fmt.Errorf("%w: version %s already holds another value: %w", t.fail("put secret value", err, w.Data), token, sinks.ErrConflict)
		}
		return "", t.fail("put secret value", err, w.Data)
	}
	version := aws.ToString(out.VersionId)
	after, _, _, err := t.current(ctx)
	if err != nil {
		return "", err
	}
	if after != before && after != version {
		return "", fmt.Errorf("write %s: AWSCURRENT moved from version %q to %q while version %s was written: %w",
			t.cfg.SecretID, before, after, version, sinks.ErrConflict)
	}
	t.log().Debug("staged secret version", zap.String("version_id", version), zap.Strings("version_stages", out.VersionStages))
	return version, nil
}

// current returns the id of the version holding AWSCURRENT ("" when the
// secret has no version yet), or missing when the secret does not exist,
// and whether it carries the tag managed-by=rotator.
func (t *Target) current(ctx context.Context) (id string, missing, owned bool, err error) {
	out, err := t.sink.Client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(t.cfg.SecretID)})
	if err != nil {
		if awsapi.ErrorCode(err) == "ResourceNotFoundException" {
			return "", true, false, nil
		}
		return "", false, false, t.fail("describe secret", err, nil)
	}
	for _, tag := range out.Tags {
		if aws.ToString(tag.Key) == ownerTagKey && aws.ToString(tag.Value) == ownerTagValue {
			owned = true
		}
	}
	for id, stages := range out.VersionIdsToStages {
		for _, l := range stages {
			if l == stageCurrent {
				return id, false, owned, nil
			}
		}
	}
	return "", false, owned, nil
}

// prepare makes sure the secret exists and is rotator's before a write:
// it creates a missing one (create: true) with the tag, and tags an
// existing one without the tag when the target adopts it, else refuses
// it. It returns the version holding AWSCURRENT.
func (t *Target) prepare(ctx context.Context) (string, error) {
	before, missing, owned, err := t.current(ctx)
	switch {
	case err != nil:
		return "", err
	case missing && !t.cfg.Create:
		return "", fmt.Errorf("write %s: ResourceNotFoundException: the secret does not exist (set create: true to create it)", t.cfg.SecretID)
	case missing:
		created, err := t.create(ctx)
		if err != nil || created {
			return "", err
		}
		// Created by someone else meanwhile: is it rotator's?
		if before, _, owned, err = t.current(ctx); err != nil {
			return "", err
		}
	}
	if owned {
		return before, nil
	}
	if !t.cfg.Adopt {
		return "", fmt.Errorf("write %s: %w", t.cfg.SecretID, sinks.NotOwned("the secret", "tag "+ownerTagKey+"="+ownerTagValue, t.yamlPath))
	}
	_, err = t.sink.Client.TagResource(ctx, &secretsmanager.TagResourceInput{
		SecretId: aws.String(t.cfg.SecretID),
		Tags:     []types.Tag{{Key: aws.String(ownerTagKey), Value: aws.String(ownerTagValue)}},
	})
	if err != nil {
		return "", t.fail("tag secret", err, nil)
	}
	t.log().Warn("adopted a secret rotator did not create: tagged " + ownerTagKey + "=" + ownerTagValue)
	return before, nil
}

// create creates the secret with the tag; created is false when it
// exists already.
func (t *Target) create(ctx context.Context) (created bool, err error) {
	in := &secretsmanager.CreateSecretInput{
		Name:        aws.String(t.cfg.SecretID),
		Description: aws.String("Managed by rotator"),
		Tags:        []types.Tag{{Key: aws.String(ownerTagKey), Value: aws.String(ownerTagValue)}},
	}
	if t.cfg.KMSKeyID != "" {
		in.KmsKeyId = aws.String(t.cfg.KMSKeyID)
	}
	_, err = t.sink.Client.CreateSecret(ctx, in)
	if err != nil && awsapi.ErrorCode(err) != "ResourceExistsException" {
		return false, t.fail("create secret", err, nil)
	}
	if err == nil {
		t.log().Info("created secret")
	}
	return err == nil, nil
}

// Read returns the AWSCURRENT value. A missing secret or a secret without
// an AWSCURRENT version is sinks.ErrNotFound.
func (t *Target) Read(ctx context.Context) (sinks.Secret, error) {
	return t.get(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(t.cfg.SecretID),
		VersionStage: aws.String(stageCurrent),
	})
}

// Previous implements sinks.HistoryReader: the AWSPREVIOUS value, which
// AWS keeps on the version AWSCURRENT was moved from.
func (t *Target) Previous(ctx context.Context, n int) ([]sinks.Secret, error) {
	if n < 1 {
		return nil, nil
	}
	prev, err := t.get(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     aws.String(t.cfg.SecretID),
		VersionStage: aws.String("AWSPREVIOUS"),
	})
	if errors.Is(err, sinks.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []sinks.Secret{prev}, nil
}

// ReadPending returns the version written by the rotation rotationID,
// promoted or not; sinks.ErrNotFound when there is none.
func (t *Target) ReadPending(ctx context.Context, rotationID string) (sinks.Secret, error) {
	id, err := versionID(rotationID)
	if err != nil {
		return nil, fmt.Errorf("read pending %s: %w", t.cfg.SecretID, err)
	}
	return t.get(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:  aws.String(t.cfg.SecretID),
		VersionId: aws.String(id),
	})
}

func (t *Target) get(ctx context.Context, in *secretsmanager.GetSecretValueInput) (sinks.Secret, error) {
	out, err := t.sink.Client.GetSecretValue(ctx, in)
	if err != nil {
		if awsapi.ErrorCode(err) == "ResourceNotFoundException" {
			return nil, fmt.Errorf("%w: %w", t.fail("get secret value", err, nil), sinks.ErrNotFound)
		}
		return nil, t.fail("get secret value", err, nil)
	}
	var data map[string]string
	if out.SecretString == nil || json.Unmarshal([]byte(*out.SecretString), &data) != nil || data == nil {
		return nil, fmt.Errorf("get secret value %s: version %s is not a JSON object of strings", t.cfg.SecretID, aws.ToString(out.VersionId))
	}
	return sinks.Secret(data), nil
}

// version is one secret version as ListSecretVersionIds reports it.
type version struct {
	id      string
	created time.Time
	stages  []string
}

func (v *version) has(label string) bool {
	for _, l := range v.stages {
		if l == label {
			return true
		}
	}
	return false
}

func (t *Target) versions(ctx context.Context) (map[string]*version, error) {
	out := map[string]*version{}
	p := secretsmanager.NewListSecretVersionIdsPaginator(t.sink.Client, &secretsmanager.ListSecretVersionIdsInput{
		SecretId:          aws.String(t.cfg.SecretID),
		IncludeDeprecated: aws.Bool(true),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, t.fail("list secret versions", err, nil)
		}
		for _, v := range page.Versions {
			out[aws.ToString(v.VersionId)] = &version{id: aws.ToString(v.VersionId), created: aws.ToTime(v.CreatedDate), stages: v.VersionStages}
		}
	}
	return out, nil
}

func holder(vs map[string]*version, label string) *version {
	for _, v := range vs {
		if v.has(label) {
			return v
		}
	}
	return nil
}

// Promote makes the version written by w.RotationID current: AWSCURRENT
// moves to it (RemoveFromVersionId = the version that held it, so AWS
// refuses if it moved meanwhile) and AWSPREVIOUS follows; then AWSPENDING
// is removed. It is idempotent. If another writer made a newer version
// current (or staged a newer pending one) after this rotation's Write,
// Promote leaves the secret alone and returns sinks.ErrConflict.
func (t *Target) Promote(ctx context.Context, w sinks.Write) error {
	id, err := versionID(w.RotationID)
	if err != nil {
		return fmt.Errorf("promote %s: %w", t.cfg.SecretID, err)
	}
	vs, err := t.versions(ctx)
	if err != nil {
		return err
	}
	ours := vs[id]
	if ours == nil {
		return fmt.Errorf("promote %s: version %s does not exist: %w", t.cfg.SecretID, id, sinks.ErrNotFound)
	}
	cur, pend := holder(vs, stageCurrent), holder(vs, stagePending)
	if cur != ours {
		if cur != nil && cur.created.After(ours.created) {
			return fmt.Errorf("promote %s: AWSCURRENT is on version %s, written after %s: %w", t.cfg.SecretID, cur.id, ours.id, sinks.ErrConflict)
		}
		if pend != nil && pend != ours && pend.created.After(ours.created) {
			return fmt.Errorf("promote %s: AWSPENDING is on version %s, written after %s: %w", t.cfg.SecretID, pend.id, ours.id, sinks.ErrConflict)
		}
		in := &secretsmanager.UpdateSecretVersionStageInput{
			SecretId:        aws.String(t.cfg.SecretID),
			VersionStage:    aws.String(stageCurrent),
			MoveToVersionId: aws.String(ours.id),
		}
		prev := ""
		if cur != nil {
			prev = cur.id
			in.RemoveFromVersionId = aws.String(cur.id)
		}
		if _, err := t.sink.Client.UpdateSecretVersionStage(ctx, in); err != nil {
			if awsapi.ErrorCode(err) != "InvalidParameterException" {
				return t.fail("promote", err, nil)
			}
			// AWSCURRENT moved between the listing and the update: fine
			// only if it moved to this version.
			again, lerr := t.versions(ctx)
			if lerr != nil {
				return lerr
			}
			if now := holder(again, stageCurrent); now == nil || now.id != id {
				return fmt.Errorf("%w: %w", t.fail("promote", err, nil), sinks.ErrConflict)
			}
			pend = holder(again, stagePending)
		} else {
			t.log().Info("promoted secret version", zap.String("version_id", ours.id), zap.String("previous_version_id", prev))
		}
	}
	if pend != nil {
		_, err := t.sink.Client.UpdateSecretVersionStage(ctx, &secretsmanager.UpdateSecretVersionStageInput{
			SecretId:            aws.String(t.cfg.SecretID),
			VersionStage:        aws.String(stagePending),
			RemoveFromVersionId: aws.String(pend.id),
		})
		// InvalidParameterException: AWSPENDING already left that version.
		if err != nil && awsapi.ErrorCode(err) != "InvalidParameterException" {
			return t.fail("remove AWSPENDING", err, nil)
		}
	}
	return nil
}

// check describes the secret: it must exist unless create is set, and the
// credentials must be allowed to see it.
func (t *Target) check(ctx context.Context) error {
	_, err := t.sink.Client.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(t.cfg.SecretID)})
	switch {
	case err == nil:
		return nil
	case awsapi.ErrorCode(err) == "ResourceNotFoundException" && t.cfg.Create:
		t.log().Info("secret does not exist yet; the first write creates it")
		return nil
	case awsapi.ErrorCode(err) == "ResourceNotFoundException":
		return fmt.Errorf("check %w (it does not exist; set create: true to create it)", t.fail("describe secret", err, nil))
	}
	return fmt.Errorf("check %w", t.fail("describe secret", err, nil))
}
