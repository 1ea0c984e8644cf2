package awstest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// apiError is an error the server answers with, in the AWS JSON 1.1 shape:
// {"__type": "<code>", "<messageKey>": "..."} with the HTTP status AWS uses
// for that code.
type apiError struct {
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func errorf(code, format string, args ...any) *apiError {
	return &apiError{code: code, message: fmt.Sprintf(format, args...)}
}

// errorStatus is the HTTP status AWS returns for each error code the server
// produces; anything else is a 400.
var errorStatus = map[string]int{
	"InternalServiceError": http.StatusInternalServerError,
	"InternalServerError":  http.StatusInternalServerError,
	"InternalFailure":      http.StatusInternalServerError,
	"ServiceUnavailable":   http.StatusServiceUnavailable,
}

// messageKeys lists the codes whose modelled message member is "message"
// (lower case); the others use "Message", as in the services' models.
var messageKeys = map[string]string{
	"ParameterNotFound":                    "message",
	"ParameterAlreadyExists":               "message",
	"ParameterVersionNotFound":             "message",
	"ParameterMaxVersionLimitExceeded":     "message",
	"HierarchyLevelLimitExceededException": "message",
	"HierarchyTypeMismatchException":       "message",
	"UnsupportedParameterType":             "message",
	"InvalidKeyId":                         "message",
	"UnrecognizedClientException":          "message",
	"InvalidSignatureException":            "message",
	"IncompleteSignatureException":         "message",
	"MissingAuthenticationTokenException":  "message",
	"UnknownOperationException":            "message",
	"SerializationException":               "message",
	"AccessDeniedException":                "Message",
}

func (e *apiError) write(w http.ResponseWriter) {
	status, ok := errorStatus[e.code]
	if !ok {
		status = http.StatusBadRequest
	}
	key, ok := messageKeys[e.code]
	if !ok {
		key = "Message"
	}
	body := map[string]string{"__type": e.code}
	if e.message != "" {
		body[key] = e.message
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"__type":"InternalFailure"}`)
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
