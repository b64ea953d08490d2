"""`casting serve`, `casting migrate` and `casting collect`: the operator's commands."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

from pydantic import ValidationError

from casting.adapters.sql.migrate import DatabaseOutOfReach, MissingMigrations, prepare, upgrade_to_head
from casting.server.container import Container, opened
from casting.server.heap import return_large_blocks
from casting.server.logs import configure_logging
from casting.server.main import serve
from casting.server.processes import refusal, serve_processes
from casting.server.settings import Settings, problems


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="casting", description="The Casting actor library service.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "serve",
        help="serve gRPC (CASTING_PROCESSES processes); an embedded SQLite database is migrated first",
    )
    commands.add_parser(
        "migrate",
        help="bring CASTING_DATABASE_URL to the head migration, and render actors whose documents are behind",
    )
    commands.add_parser(
        "collect", help="remove expired previews, unreferenced images and their blobs once, and print counts"
    )
    args = parser.parse_args(argv)
    configure_logging()

    try:
        settings = Settings()
    except ValidationError as error:
        raise SystemExit("\n".join(f"casting: {problem}" for problem in problems(error))) from None
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
    elif args.command == "collect":
        asyncio.run(_collect(settings))
    elif settings.processes > 1:
        if problem := refusal(settings):
            raise SystemExit(f"casting: {problem}")
        asyncio.run(_ready_database(settings))  # once, before any child starts
        raise SystemExit(serve_processes(settings))
    else:
        return_large_blocks()
        asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    await _ready_database(settings)
    container = Container()
    container.settings.override(settings)
    await serve(container)


async def _migrate(settings: Settings) -> None:
    with _refusals():
        await upgrade_to_head(
            settings.database_url, connect_timeout=settings.database_connect_timeout_seconds
        )
    container = Container()
    container.settings.override(settings)
    async with opened(container):
        rendered = await container.actor_documents().render_behind()
    print(json.dumps({"actors_rendered": rendered}))


async def _collect(settings: Settings) -> None:
    await _ready_database(settings)
    container = Container()
    container.settings.override(settings)
    async with opened(container):
        collected = await container.collect_garbage()()
    print(json.dumps(asdict(collected)))


async def _ready_database(settings: Settings) -> None:
    with _refusals():
        await prepare(settings.database_url, connect_timeout=settings.database_connect_timeout_seconds)


@contextmanager
def _refusals() -> Iterator[None]:
    """A database the command cannot start on, as one line saying why, not a traceback."""
    try:
        yield
    except (DatabaseOutOfReach, MissingMigrations) as error:
        raise SystemExit(f"casting: {error}") from None


if __name__ == "__main__":
    main()
