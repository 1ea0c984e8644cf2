package awstest_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rotator-dev/rotator/internal/sinks/awstest"
)

func TestPolicyActions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.json")
	if err := os.WriteFile(path, []byte(`{"Version": "2012-10-17", "Statement": [
		{"Effect": "Allow", "Action": ["ssm:GetParameters", "ssm:PutParameter", "kms:Decrypt"], "Resource": "*"},
		{"Effect": "Allow", "Action": ["ssmmessages:OpenDataChannel", "ssm:GetParameters"], "Resource": "*"}]}`), 0o600); err != nil {
		t.Fatalf("os.WriteFile: %v", err)
	}
	got, err := awstest.PolicyActions(path, "ssm")
	if err != nil {
		t.Fatalf("awstest.PolicyActions: %v", err)
	}
	if want := map[string]bool{"ssm:GetParameters": true, "ssm:PutParameter": true}; !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}

	got, err = awstest.PolicyActions(path, "kms")
	if err != nil {
		t.Fatalf("awstest.PolicyActions: %v", err)
	}
	if want := map[string]bool{"kms:Decrypt": true}; !reflect.DeepEqual(want, got) {
		t.Fatalf("got = %+v, want %+v", got, want)
	}

	_, err = awstest.PolicyActions(filepath.Join(t.TempDir(), "absent.json"), "ssm")
	if err == nil || !strings.Contains(err.Error(), "read policy") {
		t.Fatalf("awstest.PolicyActions: got error %v, want one containing %q", err, "read policy")
	}
	if err := os.WriteFile(path, []byte(`{"Statement": [{"Action": "ssm:*"}]}`), 0o600); err != nil {
		t.Fatalf("os.WriteFile: %v", err)
	}
	_, err = awstest.PolicyActions(path, "ssm")
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("awstest.PolicyActions: got error %v, want one containing %q", err, path)
	}
}
