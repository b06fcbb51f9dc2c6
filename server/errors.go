package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/weftworks/weft/core"
	"github.com/weftworks/weft/sdk"
)

// Error codes of the API: stable, for clients to match on.
const (
	CodeInvalidJSON      = "INVALID_JSON"
	CodeInvalidRequest   = "INVALID_REQUEST"
	CodeValidation       = "VALIDATION_FAILED"
	CodeUnauthorized     = "UNAUTHORIZED"
	CodeForbidden        = "FORBIDDEN"
	CodeNotFound         = "NOT_FOUND"
	CodeMethodNotAllowed = "METHOD_NOT_ALLOWED"
	CodeConflict         = "CONFLICT"
	CodeTooLarge         = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedType  = "UNSUPPORTED_MEDIA_TYPE"
	CodeUnprocessable    = "UNPROCESSABLE"
	CodeUnavailable      = "UNAVAILABLE"
	CodeInternal         = "INTERNAL"
)

// apiError is an error with its HTTP status and its JSON form:
// {"error":{"code":"…","message":"…","details":[…]}}.
type apiError struct {
	Status  int           `json:"-"`
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Details []sdk.Problem `json:"details,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// badParam reports a bad query parameter or header, naming it.
func badParam(name, format string, args ...any) *apiError {
	msg := fmt.Sprintf(format, args...)
	return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: name + ": " + msg,
		Details: []sdk.Problem{{Path: name, Message: msg}}}
}

// asAPIError maps an error from core or the stores to its API form. What it
// does not know is an internal error: logged, and answered without detail.
func asAPIError(err error) (*apiError, bool) {
	var ae *apiError
	var ve *sdk.ValidationError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae, true
	case errors.As(err, &tooLarge):
		return errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "the request body is over the limit of %d bytes", tooLarge.Limit), true
	case errors.As(err, &ve):
		return &apiError{Status: http.StatusBadRequest, Code: CodeValidation, Message: ve.Error(), Details: ve.Problems}, true
	case errors.Is(err, core.ErrNotFound):
		return errorf(http.StatusNotFound, CodeNotFound, "%v", err), true
	case errors.Is(err, core.ErrConflict):
		return errorf(http.StatusConflict, CodeConflict, "%v", err), true
	case errors.Is(err, core.ErrBadCursor):
		return badParam("cursor", "not a cursor this server issued; start again without one"), true
	}
	return errorf(http.StatusInternalServerError, CodeInternal, "internal error"), false
}

// decodeBody decodes a JSON request body into v strictly: unknown fields,
// trailing data and wrong types are errors that name their place.
func decodeBody(r *http.Request, v any) error {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError becomes 413
	}
	return decodeJSON(data, v)
}

func decodeJSON(data []byte, v any) error {
	if len(strings.TrimSpace(string(data))) == 0 {
		return errorf(http.StatusBadRequest, CodeInvalidJSON, "the request body is empty; send a JSON object")
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(data, err)
	}
	if dec.More() {
		line, col := position(data, int(dec.InputOffset()))
		return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidJSON,
			Message: fmt.Sprintf("unexpected data after the JSON value (line %d, column %d)", line, col),
			Details: []sdk.Problem{{Message: "unexpected data after the JSON value", Line: line, Column: col}}}
	}
	return nil
}

// jsonError turns a decoding error into a 400 that says where.
func jsonError(data []byte, err error) *apiError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	p := sdk.Problem{Message: err.Error()}
	switch {
	case errors.As(err, &syn):
		p.Line, p.Column = position(data, int(syn.Offset))
		p.Message = syn.Error()
	case errors.As(err, &typ):
		p.Line, p.Column = position(data, int(typ.Offset))
		p.Path = typ.Field
		p.Message = fmt.Sprintf("expected %s, got JSON %s", typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		p.Line, p.Column = position(data, len(data))
		p.Message = "the JSON ends too early (truncated?)"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		p.Path = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		p.Message = "unknown field"
	}
	msg := p.String()
	if p.Line > 0 && p.Path == "" {
		msg = fmt.Sprintf("%s (line %d, column %d)", p.Message, p.Line, p.Column)
	}
	return &apiError{Status: http.StatusBadRequest, Code: CodeInvalidJSON, Message: msg, Details: []sdk.Problem{p}}
}

// position converts a byte offset into a 1-based line and column.
func position(data []byte, offset int) (line, col int) {
	offset = min(max(offset, 0), len(data))
	line, col = 1, 1
	for _, b := range data[:offset] {
		if b == '\n' {
			line, col = line+1, 1
			continue
		}
		col++
	}
	return line, col
}
