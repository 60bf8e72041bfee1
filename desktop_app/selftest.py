"""`hashlens --self-test`: tag the shipped sample photo with the shipped model and print it.

Used to check an installation or a desktop bundle end to end; needs no library and writes
nothing to the user's data.
"""

from __future__ import annotations

import json
import sys
import time

from .paths import resources_dir

SAMPLE = "samples/astronaut.jpg"


def run_self_test() -> int:
    from .pipeline import Pipeline

    photo = resources_dir() / SAMPLE
    t0 = time.perf_counter()
    pipe = Pipeline(use_library=False)
    result = pipe.tag_photo(photo)
    elapsed = time.perf_counter() - t0
    print(json.dumps(result.to_json(), ensure_ascii=False))
    if not result.ok or not result.caption or not result.caption.tokens:
        print(f"self-test FAILED: {result.error or 'no caption'}", file=sys.stderr)
        return 1
    print(f"self-test passed: {result.caption.caption!r}, {len(result.hashtags)} hashtags, "
          f"{elapsed:.1f}s including model load", file=sys.stderr)
    return 0
