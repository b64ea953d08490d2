"""An ImageGenerator that watches another: a span around each model call, one log line with its
outcome and duration, and the same outcome handed to an observer (the server's metrics).

The outcome is "ok", "cancelled" (the caller gave up), the domain error's reason in lower case
(e.g. "generation_blocked", "model_quota_exhausted"), or "error" for anything unexpected —
a short, fixed set, fit for a metric label.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import asdict
from typing import Protocol

from opentelemetry import trace

from casting.domain.errors import DomainError, ModelCallFailed
from casting.domain.ports import GeneratedImage, GenerationSpec, ImageGenerator
from casting.domain.values import ImageBytes, Usage

log = logging.getLogger(__name__)


class GenerationObserver(Protocol):
    def generation_finished(self, generator: str, model: str, outcome: str, seconds: float) -> None: ...


class ObservedGenerator:
    """Runs `inner` (named `generator`, drawing with `model`) and reports every call."""

    def __init__(
        self,
        inner: ImageGenerator,
        generator: str,
        model: str,
        observer: GenerationObserver,
        tracer: trace.Tracer,
    ) -> None:
        self._inner = inner
        self._generator = generator
        self._model = model
        self._observer = observer
        self._tracer = tracer

    async def generate(self, spec: GenerationSpec, references: list[ImageBytes]) -> GeneratedImage:
        attributes = {
            "casting.generator": self._generator,
            "casting.model": self._model,
            "casting.generation.kind": spec.kind.value,
            "casting.generation.references": len(references),
        }
        outcome = "error"
        usage: Usage | None = None
        started = time.perf_counter()
        with self._tracer.start_as_current_span(
            f"generate {self._generator}", kind=trace.SpanKind.CLIENT, attributes=attributes
        ) as span:
            try:
                image = await self._inner.generate(spec, references)
                outcome, usage = "ok", image.usage
                return image
            except asyncio.CancelledError:
                outcome = "cancelled"
                raise
            except ModelCallFailed as error:
                outcome, usage = error.reason.lower(), error.usage
                raise
            except DomainError as error:
                outcome = error.reason.lower()
                raise
            finally:
                seconds = time.perf_counter() - started
                span.set_attribute("casting.generation.outcome", outcome)
                self._observer.generation_finished(self._generator, self._model, outcome, seconds)
                log.info(
                    "generation by %s %s: %s",
                    self._generator,
                    self._model,
                    outcome,
                    extra={
                        "event": "generation",
                        "generator": self._generator,
                        "model": self._model,
                        "kind": spec.kind.value,
                        "outcome": outcome,
                        "duration_ms": round(seconds * 1000, 2),
                        # What the model billed for this call, retries included.
                        **asdict(usage or Usage()),
                    },
                )
