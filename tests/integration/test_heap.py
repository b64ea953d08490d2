"""The serving process's heap (server/heap.py), in fresh processes of its own: the room a burst
of model answers takes is faulted in at start-up, and stays."""

from __future__ import annotations

import json
import subprocess
import sys

# A burst in a fresh process: 48 drawings of 1.5 MiB held at once, then freed, twice; the page
# faults each round took, and whether the heap could be set.
BURST = """
import json, resource, sys
from casting.server.heap import prepare_heap

def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt

prepared = prepare_heap(int(sys.argv[1]))
rounds = []
for _ in range(2):
    before = faults()
    drawings = [bytearray(1536 * 1024) for _ in range(48)]
    rounds.append(faults() - before)
    del drawings
print(json.dumps({"prepared": prepared, "faults": rounds}))
"""
PAGES_TOUCHED = 48 * 1536 * 1024 // 4096


def burst_faults(model_calls: int) -> list[int]:
    command = [sys.executable, "-c", BURST, str(model_calls)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(finished.stdout)
    assert result["prepared"]
    return list(result["faults"])


def test_a_burst_of_answers_after_start_up_takes_no_new_pages_from_the_system() -> None:
    assert all(faults < PAGES_TOUCHED // 10 for faults in burst_faults(model_calls=48))


def test_without_room_kept_every_burst_faults_its_pages_in_again() -> None:
    # The heap as it was: what the first burst grew is given back at its end, so the second
    # pays again.
    assert all(faults > PAGES_TOUCHED * 9 // 10 for faults in burst_faults(model_calls=0))
