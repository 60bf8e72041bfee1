"""Plain-text and CSV exports of many photos' hashtags (pure functions, strings out)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .instagram import MAX_HASHTAGS, clean_tags, instagram_text


@dataclass
class ExportRow:
    """One photo to export: where it is, its caption and its kept hashtags in order."""

    path: str
    caption: str | None = None
    tags: list[str] = field(default_factory=list)


def to_txt(rows: Iterable[ExportRow], with_caption: bool = False) -> str:
    """One block per photo: the file name on a line, then the Instagram text; blank line between.

    A single photo gives just its Instagram text, ready to paste.
    """
    rows = list(rows)
    if len(rows) == 1:
        r = rows[0]
        return instagram_text(r.tags, r.caption, with_caption) + "\n"
    blocks = []
    for r in rows:
        blocks.append(f"{Path(r.path).name}\n{instagram_text(r.tags, r.caption, with_caption)}")
    return "\n\n".join(blocks) + ("\n" if blocks else "")


CSV_COLUMNS = ("path", "caption", "hashtags", "count")


def to_csv(rows: Iterable[ExportRow]) -> str:
    """path, caption, hashtags (space-separated, at most 30), count; RFC 4180 quoting, CRLF."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        tags = clean_tags(r.tags, MAX_HASHTAGS)
        writer.writerow([r.path, r.caption or "", " ".join(tags), len(tags)])
    return buf.getvalue()
