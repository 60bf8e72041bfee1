"""`hashlens export`: write the approved hashtags of photos as Instagram text, txt, csv or XMP.

Each photo is found in the library by its content (so a moved photo keeps its tags); photos
the library has not seen, or has no approved tags for, are reported on stderr (and left out of
the Instagram and txt exports: no empty blocks). A caption goes with a photo only when the user
approved the model's caption or wrote one in the window (kept in the session file beside the
library); `--with-caption` never puts the model's own guess into a post.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import HashlensError
from ..fingerprint import content_hash
from ..imaging import iter_image_files
from .csv_txt import ExportRow, to_csv, to_txt
from .instagram import instagram_posts, kept_tags
from .xmp import write_sidecars

EXIT_OK, EXIT_FAILED = 0, 1


def collect_rows(library, paths, captions_from=None) -> tuple[list[ExportRow], list[str]]:
    """ExportRows for the photos under `paths`, and a warning per photo that has nothing.

    A row's caption is the one the user approved or wrote for that photo (read from the session
    file in the folder `captions_from`), else None."""
    from ..session.store import read_post_captions

    found: list[tuple[str, str]] = []
    warnings: list[str] = []
    for path in iter_image_files(paths):
        try:
            found.append((str(path), content_hash(path)))
        except OSError as exc:
            warnings.append(f"cannot read {path}: {exc.strerror or exc}")
    captions = read_post_captions(captions_from, [d for _, d in found]) if captions_from else {}
    rows: list[ExportRow] = []
    for path, digest in found:
        record = library.photo_by_hash(digest)
        tags = kept_tags(library.decisions_for(digest))
        if record is None and not tags:
            warnings.append(f"{path}: not in the library yet (tag it first)")
            continue
        if not tags:
            warnings.append(f"{path}: no approved hashtags")
        rows.append(ExportRow(path, captions.get(digest), tags))
    return rows, warnings


def mix_rows(rows: list[ExportRow]) -> tuple[list[ExportRow], list[str]]:
    """Rows whose tags exceed Instagram's limit cut to a broad/medium/niche mix (see mix.py)
    instead of their first 30, and a note for each such photo."""
    from ..tagging.popularity import popularity
    from .mix import mix_tags

    out, notes = [], []
    for r in rows:
        m = mix_tags(r.tags, popularity)
        if m.dropped:
            notes.append(f"{r.path}: {len(r.tags)} approved hashtags, kept a mix of "
                         f"{len(m.tags)} ({m.summary()})")
            r = ExportRow(r.path, r.caption, m.tags)
        out.append(r)
    return out, notes


def render(rows: list[ExportRow], fmt: str, with_caption: bool) -> str:
    """The text of an instagram, txt or csv export."""
    if fmt == "csv":
        return to_csv(rows)
    if fmt == "txt":
        return to_txt(rows, with_caption)
    if fmt == "instagram":
        return instagram_posts(rows, with_caption)
    raise ValueError(f"unknown export format {fmt!r}")


def run_export(args) -> int:
    from ..library.store import TagLibrary
    from ..paths import data_dir

    fmt = args.format
    folder = data_dir(getattr(args, "library", None))
    with TagLibrary.open(folder) as lib:
        rows, warnings = collect_rows(lib, args.paths, captions_from=folder)
    if args.with_caption:
        warnings += [f"{r.path}: no caption approved or written in the window, so hashtags only"
                     for r in rows if r.tags and not r.caption]
    if fmt in ("instagram", "txt"):
        rows = [r for r in rows if r.tags]
    if getattr(args, "mix", True) and fmt != "xmp":  # XMP keywords have no 30-tag limit
        rows, notes = mix_rows(rows)
        warnings.extend(notes)
    for w in warnings:
        print(f"hashlens: {w}", file=sys.stderr)
    if not rows:
        print("hashlens: nothing to export", file=sys.stderr)
        return EXIT_FAILED
    if fmt == "xmp":
        written, problems = write_sidecars(rows, args.with_caption,
                                           getattr(args, "sidecar_name", "append"))
        for out in written:
            print(out)
        for photo, why in problems:
            print(f"hashlens: cannot write the sidecar of {photo}: {why}", file=sys.stderr)
        return EXIT_FAILED if problems else EXIT_OK
    text = render(rows, fmt, args.with_caption)
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8", newline="" if fmt == "csv" else None)
        except OSError as exc:
            raise HashlensError(f"cannot write {args.output}: {exc.strerror or exc}") from None
        print(f"exported {len(rows)} photo{'' if len(rows) == 1 else 's'} to {args.output}",
              file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK
