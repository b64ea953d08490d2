"""Typed domain errors. The server maps each to one gRPC status with rich details."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # values imports this module; errors only name the type
    from casting.domain.values import Usage


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One bad field of a request, named by its path in the request (e.g. `traits.mood`)."""

    field: str
    description: str


class DomainError(Exception):
    """Base of every error a use-case raises on purpose. `reason` is a stable, documented code."""

    reason: str = "DOMAIN_ERROR"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """The resource does not exist, or exists in another project (which callers must not learn)."""

    reason = "RESOURCE_NOT_FOUND"

    def __init__(self, resource_type: str, name: str) -> None:
        super().__init__(f"{resource_type} {name} was not found")
        self.resource_type = resource_type
        self.name = name


class InvalidInput(DomainError):
    """The request is malformed; each violation names its field."""

    reason = "INVALID_REQUEST"

    def __init__(self, violations: list[FieldViolation]) -> None:
        super().__init__("; ".join(f"{v.field}: {v.description}" for v in violations))
        self.violations = violations

    @classmethod
    def field(cls, field: str, description: str) -> InvalidInput:
        return cls([FieldViolation(field, description)])


class Conflict(DomainError):
    """A concurrent change won; the caller may retry."""

    reason = "CONCURRENT_CHANGE"


class PreconditionFailed(DomainError):
    """The request is well formed but the resource's state does not allow it."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class ModelCallFailed(DomainError):
    """A model call that gave nothing usable. `usage` is what the calls behind it were billed
    (a refused drawing still costs its tokens), None when nothing was."""

    def __init__(self, message: str, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.usage = usage


class GenerationBlocked(ModelCallFailed):
    """The image model refused the prompt or its result (safety, policy, recitation, …)."""

    reason = "GENERATION_BLOCKED"

    def __init__(
        self,
        model_reason: str,
        message: str = "the image model refused this request",
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message, usage)
        self.model_reason = model_reason


class UpstreamBusy(ModelCallFailed):
    """The image model's quota is exhausted; retrying after `retry_after` seconds may work."""

    reason = "MODEL_QUOTA_EXHAUSTED"

    def __init__(
        self, retry_after: float, message: str = "the image model is busy", usage: Usage | None = None
    ) -> None:
        super().__init__(message, usage)
        self.retry_after = retry_after


class UpstreamUnavailable(ModelCallFailed):
    """The image model could not be reached or gave no usable image."""

    def __init__(
        self,
        reason: str = "MODEL_UNAVAILABLE",
        message: str = "the image model is unavailable",
        usage: Usage | None = None,
    ) -> None:
        super().__init__(message, usage)
        self.reason = reason


class BudgetExceeded(DomainError):
    """The project's monthly budget would be passed by one more drawing. Amounts in USD
    millionths; `spent_micros` counts the drawings still in flight at their estimate."""

    reason = "BUDGET_EXCEEDED"

    def __init__(self, project: str, month: str, cap_micros: int, spent_micros: int) -> None:
        super().__init__(
            f"project {project} has spent ${spent_micros / 1e6:.2f} of its ${cap_micros / 1e6:.2f}"
            f" budget for {month}; the next drawing would pass it"
        )
        self.project = project
        self.month = month
        self.cap_micros = cap_micros
        self.spent_micros = spent_micros


class StorageUnavailable(DomainError):
    """The database could not be reached in time (no free connection, a lost connection, a
    statement past its timeout); retrying later may work."""

    reason = "STORAGE_UNAVAILABLE"


class InvalidImage(DomainError):
    """Bytes that are not an acceptable image (wrong format, corrupt, too large, bomb)."""

    reason = "INVALID_IMAGE"
