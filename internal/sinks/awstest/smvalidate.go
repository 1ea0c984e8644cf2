package awstest

// Validation of Secrets Manager request members, with AWS's messages.

func checkToken(tok *string) *apiError {
	if tok == nil {
		return nil
	}
	if n := len(*tok); n < 32 {
		return errorf("ValidationException", "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length greater than or equal to 32")
	} else if n > 64 {
		return errorf("ValidationException", "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to 64")
	}
	return nil
}

// checkValue validates a secret value without ever echoing it.
func checkValue(str *string, bin []byte, required bool) *apiError {
	switch {
	case str != nil && bin != nil:
		return errorf("InvalidParameterException", "You can't specify both a binary secret value and a string secret value in the same secret.")
	case str == nil && bin == nil && required:
		return errorf("InvalidRequestException", "You must provide either SecretString or SecretBinary.")
	case str != nil && len(*str) > 65536:
		return errorf("ValidationException", "1 validation error detected: Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to 65536")
	case len(bin) > 65536:
		return errorf("ValidationException", "1 validation error detected: Value at 'secretBinary' failed to satisfy constraint: Member must have length less than or equal to 65536")
	}
	return nil
}

func checkStages(stages []string) *apiError {
	if stages == nil {
		return nil
	}
	if len(stages) < 1 || len(stages) > 20 {
		return errorf("ValidationException", "1 validation error detected: Value at 'versionStages' failed to satisfy constraint: Member must have length between 1 and 20")
	}
	for _, l := range stages {
		if len(l) < 1 || len(l) > 256 {
			return errorf("ValidationException", "1 validation error detected: Value at 'versionStages' failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 256, Member must have length greater than or equal to 1]")
		}
	}
	return nil
}
