package awstest

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// PolicyActions returns the actions of service (such as "ssm", for
// "ssm:GetParameters") that the IAM policy document at path allows, so a
// sink's test can compare them with the calls the server received. Every
// statement's Action must be a list.
func PolicyActions(path, service string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	var doc struct {
		Statement []struct{ Action []string }
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	out := map[string]bool{}
	for _, st := range doc.Statement {
		for _, a := range st.Action {
			if strings.HasPrefix(a, service+":") {
				out[a] = true
			}
		}
	}
	return out, nil
}
