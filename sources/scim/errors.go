package scim

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	scimerrors "github.com/elimity-com/scim/errors"
)

// apiError is an error the client is told about, with its SCIM status,
// scimType and a detail that names the problem without internals.
type apiError struct {
	status   int
	scimType scimerrors.ScimType
	detail   string
}

func (e *apiError) Error() string { return e.detail }

func badValue(detail string) error {
	return &apiError{http.StatusBadRequest, scimerrors.ScimTypeInvalidValue, detail}
}

func badPath(detail string) error {
	return &apiError{http.StatusBadRequest, scimerrors.ScimTypeInvalidPath, detail}
}

func badFilter(detail string) error {
	return &apiError{http.StatusBadRequest, scimerrors.ScimTypeInvalidFilter, detail}
}

func noTarget(detail string) error {
	return &apiError{http.StatusBadRequest, scimerrors.ScimTypeNoTarget, detail}
}

// toScimError turns any handler error into the ScimError value the library
// renders with its own status (G8): sentinels and apiErrors are mapped,
// anything else is logged and reported as a bare internal error.
func toScimError(ctx context.Context, log *slog.Logger, err error, id string) error {
	var (
		ae  *apiError
		ce  *conflictError
		sev scimerrors.ScimError
		sep *scimerrors.ScimError
	)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errNotFound):
		return scimerrors.ScimErrorResourceNotFound(id)
	case errors.As(err, &ce):
		e := scimerrors.ScimErrorUniqueness
		e.Detail = ce.Error()
		return e
	case errors.As(err, &ae):
		return scimerrors.ScimError{ScimType: ae.scimType, Detail: ae.detail, Status: ae.status}
	case errors.As(err, &sev):
		return sev
	case errors.As(err, &sep) && sep != nil:
		return *sep
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		log.WarnContext(ctx, "scim request abandoned", "err", err)
		return scimerrors.ScimError{Status: http.StatusInternalServerError, Detail: "request abandoned"}
	}
	log.ErrorContext(ctx, "scim request failed", "err", err)
	return scimerrors.ScimError{Status: http.StatusInternalServerError, Detail: "internal error"}
}
