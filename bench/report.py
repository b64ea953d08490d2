"""Figures as they are measured: a table on stdout and a JSON file under bench/results/."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

RESULTS = Path(__file__).parent / "results"


def percentile(samples: list[float], q: float) -> float:
    """The nearest-rank q-th percentile (0 < q ≤ 100) of `samples`."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


@dataclass(frozen=True, slots=True)
class Figure:
    section: str
    measure: str
    value: float
    unit: str
    note: str = ""


@dataclass
class Report:
    quick: bool
    figures: list[Figure] = field(default_factory=list)

    def add(self, section: str, measure: str, value: float, unit: str, note: str = "") -> None:
        figure = Figure(section, measure, round(value, 3), unit, note)
        self.figures.append(figure)
        print(f"  {measure:<58} {_shown(figure.value, unit):>14}  {note}", flush=True)

    def latencies(self, section: str, measure: str, seconds: list[float]) -> tuple[float, float]:
        """Adds p50 and p99 of `seconds` in ms; returns them."""
        p50, p99 = ms(percentile(seconds, 50)), ms(percentile(seconds, 99))
        self.add(section, f"{measure} p50", p50, "ms", f"n={len(seconds)}")
        self.add(section, f"{measure} p99", p99, "ms")
        return p50, p99

    def table(self) -> str:
        lines = [f"{'section':<12} {'measure':<58} {'figure':>14}  note", "-" * 100]
        lines += [
            f"{f.section:<12} {f.measure:<58} {_shown(f.value, f.unit):>14}  {f.note}" for f in self.figures
        ]
        return "\n".join(lines)

    def save(self) -> Path:
        RESULTS.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path = RESULTS / f"bench-{stamp}{'-quick' if self.quick else ''}.json"
        document = {
            "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "quick": self.quick,
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
            "figures": [asdict(f) for f in self.figures],
        }
        path.write_text(json.dumps(document, indent=2) + "\n")
        return path


def _shown(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.2f} {unit}" if unit else f"{value:,.2f}"
