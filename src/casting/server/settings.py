"""Operator settings from the environment. The variable names are a contract with operators."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from casting.adapters.generators.gemini_models import image_model
from casting.adapters.generators.prices import ModelPrice, PriceTable
from casting.adapters.sql.engine import is_postgresql


class Settings(BaseSettings):
    """Every CASTING_* variable, with defaults that run on one machine (SQLite, a local blob
    directory, the offline generator when no Gemini key is set)."""

    model_config = SettingsConfigDict(env_prefix="CASTING_", extra="ignore")

    host: str = "[::]"
    port: int = 50051
    # `casting serve` from this many processes on the one port (server/processes.py; PostgreSQL
    # only): each process parses model answers under a GIL of its own.
    processes: int = Field(default=1, ge=1)
    database_url: str = "sqlite+aiosqlite:///./var/casting.db"
    # Every connection the pool may lend is kept: a burst of calls past the kept ones opened and
    # closed the extra ones each time, at milliseconds of CPU a PostgreSQL connection
    # (bench/README.md, twelfth pass).
    database_pool_size: int = 20
    database_pool_timeout_seconds: float = 10.0
    database_max_overflow: int = 0
    # PostgreSQL: GetActor, ListActors and ListStoryCast read on a pool of their own (asyncpg's,
    # past SQLAlchemy's Connection: adapters/sql/direct_reads.py), up to this many connections more.
    database_read_pool_size: int = Field(default=10, ge=1)
    database_connect_timeout_seconds: float = 10.0
    database_statement_timeout_seconds: float = 30.0
    blob_url: str = "file://./var/blobs"
    generator: Literal["auto", "gemini", "offline"] = "auto"
    gemini_api_key: str = Field(default="", validation_alias=AliasChoices("GEMINI_API_KEY"))
    gemini_model: str = "gemini-2.5-flash-image"
    gemini_base_url: str = ""
    gemini_max_attempts: int = 3
    gemini_timeout_seconds: float = 120.0
    # gemini-api: GEMINI_API_KEY. vertex: Vertex AI in GOOGLE_CLOUD_PROJECT and
    # GOOGLE_CLOUD_LOCATION, with Application Default Credentials.
    gemini_backend: Literal["gemini-api", "vertex"] = "gemini-api"
    google_cloud_project: str = Field(default="", validation_alias=AliasChoices("GOOGLE_CLOUD_PROJECT"))
    google_cloud_location: str = Field(default="", validation_alias=AliasChoices("GOOGLE_CLOUD_LOCATION"))
    # The whole of one drawing, redraws and retries included, when the caller sets no shorter
    # deadline (the console and background work set none).
    generation_timeout_seconds: float = 300.0
    # JSON: {"model": {"input": USD, "output": USD, "image_output": USD}} per million tokens,
    # over the defaults of adapters/generators/prices.py.
    model_prices: dict[str, ModelPrice] = {}
    # YAML: monthly budgets per project (adapters/budgets.py); empty: no caps.
    budgets_file: str = ""
    # The cap on concurrent model calls: per process, and on PostgreSQL across every replica;
    # batch work (CastStory) never takes the last `interactive_reserved_generations` of them.
    max_concurrent_generations: int = 16
    interactive_reserved_generations: int = 1

    # Every drawing is judged (identity against its references, and the sheet rules) and drawn
    # again when it fails, up to max_draws drawings; the judge is the generator's kind: a Gemini
    # vision model (judge_model) or the offline measurement.
    verify: Literal["on", "off"] = "on"
    judge_model: str = "gemini-2.5-flash"
    min_identity_score: float = Field(default=0.7, ge=0.0, le=1.0)
    max_draws: int = Field(default=3, ge=1, le=10)
    sheet_ttl_seconds: int = 24 * 3600
    idempotency_ttl_seconds: int = 24 * 3600
    # A blob is written before the row that points at it commits: younger ones are never
    # collected, whatever the rows say.
    blob_grace_seconds: int = 3600
    collect_interval_seconds: float = 900.0  # 0: no collection in the server (`casting collect`)
    max_upload_bytes: int = 20 * 1024 * 1024
    # Uploads, model images and thumbnails are decoded on this many threads of their own, within
    # this much memory at once; the largest image accepted is the one whose re-encoding fits it
    # (256 MiB: 33.5 megapixels).
    decode_memory_mb: int = 256
    decode_threads: int = 2
    # CastStory: how long a finished or running operation can be read, and how many roles' steps
    # one replica works on at once (model calls are capped apart, by max_concurrent_generations).
    operation_ttl_seconds: int = 30 * 24 * 3600
    cast_workers: int = 4
    # On PostgreSQL (procrastinate): how often a replica's worker says it is alive, and after how
    # long without a word its steps are handed to another replica.
    cast_heartbeat_seconds: float = 10.0
    cast_stalled_seconds: float = 30.0
    # How long GetActor and GetVariant may answer from memory. This process's own writes show at
    # once; another replica's writes within this time. 0: every read goes to the database.
    actor_cache_seconds: float = 1.0
    grace_period_seconds: float = 30.0
    # Streams one connection may have open at once (HTTP/2 MAX_CONCURRENT_STREAMS), and how long
    # one write of a streamed answer may wait for a client that reads nothing before the call
    # ends (DEADLINE_EXCEEDED) and lets go of its file and buffers.
    max_streams_per_connection: int = 100
    stream_stall_seconds: float = 30.0
    metrics_port: int = 0
    # A plaintext port that serves only gRPC health, for probes that cannot speak TLS (Kubernetes'
    # grpc probes); it reports what the main port's health does. 0: off.
    health_port: int = 0
    # /metrics has no login, so it listens on loopback unless the operator opens it.
    metrics_host: str = "127.0.0.1"
    # The Casting console (a web page for artists and writers): its address and port (0: off) and
    # the project it opens on.
    console_host: str = "127.0.0.1"
    console_port: int = 8080
    console_project: str = "studio"
    # Host names the console answers to, comma-separated, besides localhost, 127.0.0.1, [::1] and
    # console_host: any other Host header (a rebinding domain's) is refused.
    console_allowed_hosts: str = ""
    # A connection that sends no whole request head within this time of opening, or of its last
    # answer, is closed (silent and one-byte-at-a-time sockets).
    console_idle_timeout_seconds: float = 20.0
    # A form's whole body (an upload of max_upload_bytes included) must arrive within this time.
    console_body_timeout_seconds: float = 120.0
    # The key sealing the console's session cookie (a Fernet key: 32 url-safe base64 bytes).
    # Empty: a new key at each start, so a restart signs everyone out; replicas behind one
    # address need the same key.
    console_session_key: str = ""
    # With a token file: the request header naming the person that a trusted proxy (an OIDC
    # proxy such as oauth2-proxy) signed in, believed only from these peer addresses.
    console_identity_header: str = ""
    console_proxy_addresses: str = "127.0.0.1,::1"
    # Off by default: plaintext and open. A certificate turns on TLS, a client CA mutual TLS, a
    # token file bearer tokens (server/auth.py has its format).
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""
    auth_tokens_file: str = ""

    @model_validator(mode="after")
    def _known_image_model(self) -> Settings:
        """An unknown CASTING_GEMINI_MODEL is refused at start-up, naming the supported ones:
        its sizes, reference limits and prices would be guesses."""
        if self.chosen_generator == "gemini":
            try:
                image_model(self.gemini_model)
            except ValueError as unknown:
                raise ValueError(f"CASTING_GEMINI_MODEL: {unknown}") from None
        return self

    @model_validator(mode="after")
    def _priced_judge(self) -> Settings:
        """A judge model without a price is refused at start-up: its calls would cost nothing
        in the ledger, and no budget would hold. (Every supported image model has one.)"""
        judging = self.chosen_generator == "gemini" and self.verify == "on"
        if judging and not PriceTable(self.model_prices).knows(self.judge_model):
            raise ValueError(
                f"CASTING_JUDGE_MODEL {self.judge_model!r} has no price; "
                "give it one in CASTING_MODEL_PRICES (USD per million tokens)"
            )
        return self

    @property
    def on_postgresql(self) -> bool:
        """Whether the database is a shared PostgreSQL one (else the embedded SQLite): what
        holds across replicas and processes (the model-call cap, the task engine) needs it."""
        return is_postgresql(self.database_url)

    @property
    def chosen_generator(self) -> Literal["gemini", "offline"]:
        """auto means gemini when a key is set (or Vertex AI is chosen), else the offline drawing."""
        if self.generator == "auto":
            return "gemini" if self.gemini_api_key or self.gemini_backend == "vertex" else "offline"
        return self.generator


def problems(error: ValidationError) -> list[str]:
    """What `error` found wrong with the environment, a line each, in the operator's names:
    `CASTING_PORT: Input should be a valid integer, ...`."""
    lines = []
    for problem in error.errors(include_url=False):
        message = problem["msg"].removeprefix("Value error, ")
        where = [str(part) for part in problem["loc"]]
        if where and where[0] in Settings.model_fields:  # else an alias: the variable's own name
            where[0] = f"{Settings.model_config['env_prefix']}{where[0].upper()}"
        if where:
            message = f"{'.'.join(where)}: {message}"
        lines.append(message)
    return lines
