"""The flow over a real channel with the blobs on S3 (a local moto server): the server builds its
store from CASTING_BLOB_URL=s3://bucket/prefix and the standard AWS_* variables, as in production."""

from __future__ import annotations

import hashlib
import io

import pytest
from PIL import Image as PILImage

from casting.server.container import Container
from casting.v1 import casting_pb2 as pb
from casting.v1 import casting_pb2_grpc
from tests.e2e.test_flow import P, read_image, save
from tests.support.s3 import S3Bucket

PREFIX = "casting/prod"
MiB = 1024 * 1024


@pytest.fixture
def container(container: Container, s3_bucket: S3Bucket, monkeypatch: pytest.MonkeyPatch) -> Container:
    """The e2e container with CASTING_BLOB_URL on the test bucket; the credentials reach the
    store through the environment, which the container reads when it builds the store."""
    for name, value in s3_bucket.environ().items():
        monkeypatch.setenv(name, value)
    settings = container.settings().model_copy(update={"blob_url": s3_bucket.url(PREFIX)})
    container.settings.override(settings)
    return container


async def test_generate_save_branch_and_read_back_from_the_bucket(
    stub: casting_pb2_grpc.CastingServiceStub, s3_bucket: S3Bucket
) -> None:
    actor = await save(stub)
    base = actor.variants[0]
    branched = await stub.BranchVariant(
        pb.BranchVariantRequest(
            base_variant=base.name, trait_changes=pb.TraitChanges(hair_traits="red curls")
        )
    )
    # A picture over 1 MiB, so that reading it back takes more than one chunk.
    noise = io.BytesIO()
    PILImage.effect_noise((720, 720), 100).convert("RGB").save(noise, format="PNG")
    imported = await stub.ImportActor(
        pb.ImportActorRequest(parent=P, image_content=noise.getvalue(), display_name="Noise")
    )
    images = [base.reference_image, branched.images[0], imported.variants[0].reference_image]
    assert images[2].size_bytes > MiB

    for image in images:
        chunks, data = await read_image(stub, image.name)
        assert all(len(chunk.data) <= MiB for chunk in chunks)
        assert hashlib.sha256(data).hexdigest() == image.sha256 == chunks[0].sha256
        assert len(data) == image.size_bytes

    assert s3_bucket.object_names() == {f"{PREFIX}/{image.sha256}" for image in images}
