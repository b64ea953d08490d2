"""Reading google.rpc.Status details off a failed call, as a client would."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status


@dataclass
class Details:
    code: grpc.StatusCode
    message: str
    reason: str = ""
    domain: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    fields: list[str] = field(default_factory=list)
    resource_name: str = ""
    retry_seconds: float | None = None
    quota: list[error_details_pb2.QuotaFailure.Violation] = field(default_factory=list)


def details_of(error: grpc.aio.AioRpcError) -> Details:
    status = rpc_status.from_call(error)
    assert status is not None, f"{error.code()} carried no google.rpc.Status: {error.details()}"
    found = Details(error.code(), status.message)
    for packed in status.details:
        if packed.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            packed.Unpack(info)
            found.reason, found.domain, found.metadata = info.reason, info.domain, dict(info.metadata)
        elif packed.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            packed.Unpack(bad)
            found.fields = [v.field for v in bad.field_violations]
        elif packed.Is(error_details_pb2.ResourceInfo.DESCRIPTOR):
            resource = error_details_pb2.ResourceInfo()
            packed.Unpack(resource)
            found.resource_name = resource.resource_name
        elif packed.Is(error_details_pb2.QuotaFailure.DESCRIPTOR):
            failure = error_details_pb2.QuotaFailure()
            packed.Unpack(failure)
            found.quota = list(failure.violations)
        elif packed.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
            retry = error_details_pb2.RetryInfo()
            packed.Unpack(retry)
            found.retry_seconds = retry.retry_delay.ToTimedelta().total_seconds()
    return found
