"""`casting serve` and `casting migrate`: the operator's commands."""

from __future__ import annotations

import argparse
import asyncio
import logging

from sqlalchemy import make_url

from casting.adapters.sql.migrate import upgrade_to_head
from casting.server.container import Container
from casting.server.main import serve
from casting.server.settings import Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="casting", description="The Casting actor library service.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="serve gRPC; an embedded SQLite database is migrated first")
    commands.add_parser("migrate", help="bring CASTING_DATABASE_URL to the head migration")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    settings = Settings()
    if args.command == "migrate":
        asyncio.run(upgrade_to_head(settings.database_url))
    else:
        asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    # The embedded database is the service's own; a shared one is migrated deliberately.
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        await upgrade_to_head(settings.database_url)
    container = Container()
    container.settings.override(settings)
    await serve(container)


if __name__ == "__main__":
    main()
