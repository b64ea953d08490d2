"""google.longrunning.Operations for the operations CastStory starts: each handler maps the
request, calls one use-case and maps the result back, like CastingService's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from google.longrunning import operations_pb2, operations_pb2_grpc
from google.protobuf.empty_pb2 import Empty

from casting.domain import names
from casting.domain.usecases.story_casting import (
    CancelOperation,
    DeleteOperation,
    GetOperation,
    ListOperations,
    WaitOperation,
)
from casting.server.mapping import operation_to_proto

Context = Any  # grpc.aio.ServicerContext; handlers never touch it

SERVICE_NAME = operations_pb2.DESCRIPTOR.services_by_name["Operations"].full_name


class OperationsServicer(operations_pb2_grpc.OperationsServicer):
    def __init__(
        self,
        *,
        get_operation: GetOperation,
        list_operations: ListOperations,
        wait_operation: WaitOperation,
        cancel_operation: CancelOperation,
        delete_operation: DeleteOperation,
    ) -> None:
        self._get = get_operation
        self._list = list_operations
        self._wait = wait_operation
        self._cancel = cancel_operation
        self._delete = delete_operation

    async def GetOperation(
        self, request: operations_pb2.GetOperationRequest, context: Context
    ) -> operations_pb2.Operation:
        name = names.parse_operation(request.name, "name")
        return operation_to_proto(await self._get(name.project, name.id))

    async def ListOperations(
        self, request: operations_pb2.ListOperationsRequest, context: Context
    ) -> operations_pb2.ListOperationsResponse:
        project = names.parse_operations(request.name, "name")
        page = await self._list(project, request.filter, request.page_size, request.page_token)
        return operations_pb2.ListOperationsResponse(
            operations=[operation_to_proto(view) for view in page.operations],
            next_page_token=page.next_page_token,
        )

    async def WaitOperation(
        self, request: operations_pb2.WaitOperationRequest, context: Context
    ) -> operations_pb2.Operation:
        name = names.parse_operation(request.name, "name")
        timeout = request.timeout.ToTimedelta() if request.HasField("timeout") else None
        if timeout is not None and timeout <= timedelta(0):
            timeout = timedelta(0)
        return operation_to_proto(await self._wait(name.project, name.id, timeout))

    async def CancelOperation(
        self, request: operations_pb2.CancelOperationRequest, context: Context
    ) -> Empty:
        name = names.parse_operation(request.name, "name")
        await self._cancel(name.project, name.id)
        return Empty()

    async def DeleteOperation(
        self, request: operations_pb2.DeleteOperationRequest, context: Context
    ) -> Empty:
        name = names.parse_operation(request.name, "name")
        await self._delete(name.project, name.id)
        return Empty()
