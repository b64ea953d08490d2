"""`casting serve`, `casting migrate` and `casting collect`: the operator's commands."""

from __future__ import annotations

import argparse
import asyncio
import json
from dataclasses import asdict

from sqlalchemy import make_url

from casting.adapters.sql.migrate import lacks_migrations, upgrade_to_head
from casting.server.container import Container, opened
from casting.server.logs import configure_logging
from casting.server.main import serve
from casting.server.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="casting", description="The Casting actor library service.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve gRPC; an embedded SQLite database is migrated first")
    commands.add_parser("migrate", help="bring CASTING_DATABASE_URL to the head migration")
    commands.add_parser(
        "collect", help="remove expired previews, unreferenced images and their blobs once, and print counts"
    )
    args = parser.parse_args(argv)
    configure_logging()

    settings = Settings()
    if args.command == "migrate":
        asyncio.run(upgrade_to_head(settings.database_url))
    elif args.command == "collect":
        asyncio.run(_collect(settings))
    else:
        asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    await _ready_database(settings)
    container = Container()
    container.settings.override(settings)
    await serve(container)


async def _collect(settings: Settings) -> None:
    await _ready_database(settings)
    container = Container()
    container.settings.override(settings)
    async with opened(container):
        collected = await container.collect_garbage()()
    print(json.dumps(asdict(collected)))


async def _ready_database(settings: Settings) -> None:
    # The embedded database is the service's own; a shared one is migrated deliberately.
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        await upgrade_to_head(settings.database_url)
    elif await lacks_migrations(settings.database_url):
        # Serving would answer INTERNAL to every call (collecting would fail); refusing says why.
        raise SystemExit(
            f"casting: the database {url.render_as_string(hide_password=True)} lacks migrations "
            "this release needs; run `casting migrate` (make migrate) first"
        )


if __name__ == "__main__":
    main()
