package awstest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rotator-dev/rotator/internal/sinks/awstest"
)

func TestPolicyActions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.json")
	require.NoError(t, os.WriteFile(path, []byte(`{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": ["ssm:GetParameters", "ssm:PutParameter", "kms:Decrypt"], "Resource": "*"},
		{"Effect": "Allow", "Action": ["ssmmessages:OpenDataChannel", "ssm:GetParameters"], "Resource": "*"}]}`), 0o600))
	got, err := awstest.PolicyActions(path, "ssm")
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"ssm:GetParameters": true, "ssm:PutParameter": true}, got)

	got, err = awstest.PolicyActions(path, "kms")
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"kms:Decrypt": true}, got)

	_, err = awstest.PolicyActions(filepath.Join(t.TempDir(), "absent.json"), "ssm")
	require.ErrorContains(t, err, "read policy")
	require.NoError(t, os.WriteFile(path, []byte(`{"Statement": [{"Action": "ssm:*"}]}`), 0o600))
	_, err = awstest.PolicyActions(path, "ssm")
	require.ErrorContains(t, err, path)
}
