"""Domain errors to gRPC statuses with the richer error model (AIP-193), in one place.

Every status carries google.rpc.ErrorInfo (domain casting.webtoon, a documented reason);
INVALID_ARGUMENT adds BadRequest, NOT_FOUND adds ResourceInfo, and the statuses where
retrying helps add RetryInfo. Anything unexpected is INTERNAL with no detail at all.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from casting.domain import errors
from casting.domain.operations import RoleFailure

DOMAIN = "casting.webtoon"
UNAVAILABLE_RETRY_SECONDS = 5.0

_CODES: list[tuple[type[errors.DomainError], int]] = [
    (errors.NotFound, code_pb2.NOT_FOUND),
    (errors.InvalidInput, code_pb2.INVALID_ARGUMENT),
    (errors.Conflict, code_pb2.ABORTED),
    (errors.GenerationBlocked, code_pb2.FAILED_PRECONDITION),
    (errors.PreconditionFailed, code_pb2.FAILED_PRECONDITION),
    (errors.UpstreamBusy, code_pb2.RESOURCE_EXHAUSTED),
    (errors.BudgetExceeded, code_pb2.RESOURCE_EXHAUSTED),
    (errors.UpstreamUnavailable, code_pb2.UNAVAILABLE),
    (errors.StorageUnavailable, code_pb2.UNAVAILABLE),
]


def _packed(detail: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(detail)  # type: ignore[arg-type]
    return packed


def _retry_after(seconds: float) -> any_pb2.Any:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(round(seconds * 1e9))
    return _packed(error_details_pb2.RetryInfo(retry_delay=delay))


def _code_of(error: errors.DomainError) -> int | None:
    return next((code for kind, code in _CODES if isinstance(error, kind)), None)


def status_code(error: errors.DomainError) -> grpc.StatusCode:
    """The gRPC status code a domain error is answered with."""
    code = _code_of(error)
    return next(c for c in grpc.StatusCode if c.value[0] == (code_pb2.INTERNAL if code is None else code))


def to_status(error: errors.DomainError) -> grpc.Status:
    """The status of a domain error; an unlisted kind (a bug) is INTERNAL."""
    code = _code_of(error)
    if code is None:
        return internal_status()
    metadata = {}
    if isinstance(error, errors.GenerationBlocked):
        metadata["model_reason"] = error.model_reason
    elif isinstance(error, errors.BudgetExceeded):
        metadata |= {"cap_micros": str(error.cap_micros), "spent_micros": str(error.spent_micros)}
    details = [_packed(error_details_pb2.ErrorInfo(reason=error.reason, domain=DOMAIN, metadata=metadata))]
    if isinstance(error, errors.InvalidInput):
        violations = [
            error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
            for v in error.violations
        ]
        details.append(_packed(error_details_pb2.BadRequest(field_violations=violations)))
    elif isinstance(error, errors.NotFound):
        resource = error_details_pb2.ResourceInfo(
            resource_type=f"{DOMAIN}/{error.resource_type}",
            resource_name=error.name,
            description=error.message,
        )
        details.append(_packed(resource))
    elif isinstance(error, errors.UpstreamBusy):
        details.append(_retry_after(error.retry_after))
    elif isinstance(error, errors.BudgetExceeded):
        details.append(_packed(_quota_failure(error)))
    elif isinstance(error, errors.UpstreamUnavailable | errors.StorageUnavailable):
        details.append(_retry_after(UNAVAILABLE_RETRY_SECONDS))
    return rpc_status.to_status(status_pb2.Status(code=code, message=error.message, details=details))


_CODES_BY_KIND = {kind.__name__: code for kind, code in _CODES}


def failure_status(failure: RoleFailure) -> status_pb2.Status:
    """A failed role's status, as its error would have been answered (INTERNAL for a bug)."""
    code = _CODES_BY_KIND.get(failure.kind)
    if code is None:
        code, reason, message = code_pb2.INTERNAL, "INTERNAL", "internal error"
    else:
        reason, message = failure.reason, failure.message
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN)
    return status_pb2.Status(code=code, message=message, details=[_packed(info)])


def _quota_failure(error: errors.BudgetExceeded) -> error_details_pb2.QuotaFailure:
    """The cap, in QuotaFailure's fields, and the spend in its words (ErrorInfo's metadata
    carries both as numbers)."""
    violation = error_details_pb2.QuotaFailure.Violation(
        subject=f"projects/{error.project}",
        description=(
            f"monthly model budget of {error.cap_micros / 1e6:.2f} USD for {error.month}:"
            f" {error.spent_micros / 1e6:.6f} USD spent or reserved"
        ),
        quota_metric=f"{DOMAIN}/model_cost_usd_micros",
        quota_id="MonthlyModelBudgetPerProject",
        quota_dimensions={"project": error.project, "month": error.month},
        quota_value=error.cap_micros,
    )
    return error_details_pb2.QuotaFailure(violations=[violation])


def plain_status(code: int, reason: str, message: str) -> grpc.Status:
    """A status with ErrorInfo and nothing else: a refused caller, or a bug."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN)
    return rpc_status.to_status(status_pb2.Status(code=code, message=message, details=[_packed(info)]))


def internal_status() -> grpc.Status:
    return plain_status(code_pb2.INTERNAL, "INTERNAL", "internal error")
