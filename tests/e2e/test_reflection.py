"""A caller with no generated code: everything it knows comes from server reflection."""

from __future__ import annotations

import asyncio

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from casting.server.main import RunningServer

SERVICE = "casting.v1.CastingService"


def drive_through_reflection(port: int) -> dict[str, object]:
    """Lists services, then generates and saves a sheet from JSON, like grpcurl would."""
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        pool = descriptor_pool.DescriptorPool(database)
        service = pool.FindServiceByName(SERVICE)

        def call(method_name: str, body: dict[str, object]) -> dict[str, object]:
            method = service.methods_by_name[method_name]
            request_class = message_factory.GetMessageClass(method.input_type)
            response_class = message_factory.GetMessageClass(method.output_type)
            rpc = channel.unary_unary(
                f"/{SERVICE}/{method_name}",
                request_serializer=request_class.SerializeToString,
                response_deserializer=response_class.FromString,
            )
            answer = rpc(json_format.ParseDict(body, request_class()))
            return json_format.MessageToDict(answer)

        sheet = call(
            "GenerateSheet",
            {
                "parent": "projects/studio-1",
                "storyStyle": "fantasy",
                "imageStyle": "anime",
                "traits": {
                    "gender": "GENDER_MALE",
                    "ageRange": "AGE_RANGE_ELDERLY",
                    "hairTraits": "white beard",
                },
            },
        )
        actor = call(
            "SaveActor", {"parent": "projects/studio-1", "sheet": sheet["name"], "displayName": "Sage"}
        )
        return {"services": services, "methods": set(service.methods_by_name), "sheet": sheet, "actor": actor}


async def test_reflection_lists_the_service_and_drives_the_flow(server: RunningServer) -> None:
    seen = await asyncio.to_thread(drive_through_reflection, server.port)
    assert {SERVICE, "grpc.health.v1.Health"} <= seen["services"]
    assert seen["methods"] == {
        "ListStyles", "GenerateSheet", "GenerateSheets", "GetSheet", "SaveActor", "ImportActor", "GetActor",
        "ListActors", "UpdateActor", "DeleteActor", "BranchVariant", "GetVariant", "UpdateVariant",
        "DeleteVariant", "CastVariant", "ListStoryCast", "ReadImage", "CastStory",
    }  # fmt: skip
    assert seen["sheet"]["generation"]["generator"] == "offline"
    assert seen["actor"]["variants"][0]["kind"] == "KIND_BASE"
    assert seen["actor"]["variants"][0]["traits"]["hairTraits"] == "white beard"
