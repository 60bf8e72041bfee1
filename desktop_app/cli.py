"""The `hashlens` command. Thin: parses arguments and calls the shared core.

Never imports Qt (only `hashlens` with no command opens the GUI, and imports it then), and
imports TensorFlow only for `hashlens train` (tagging runs the models on LiteRT).
"""

from __future__ import annotations

import argparse
import json
import sys

from . import __version__
from .errors import HashlensError, LibraryError
from .results import LOW_CONFIDENCE, MAX_HASHTAGS

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors exit 2 with a short message (argparse's default too)
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def _add_library(p: argparse.ArgumentParser) -> None:
    p.add_argument("--library", metavar="DIR",
                   help="folder of the tag library (default: $HASHLENS_HOME or the user data dir)")


def _add_sidecar_name(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sidecar-name", choices=["append", "replace"], default="append",
                   help="xmp: name a new sidecar photo.jpg.xmp (append: darktable, digiKam; default) "
                   "or photo.xmp (replace: Lightroom); an existing one is updated under either name")


def _add_library_command(sub) -> None:
    """`hashlens library stats|export|import|check|repair`."""
    p = sub.add_parser("library", help="the tag library: stats, export, import, check, repair")
    lsub = p.add_subparsers(dest="library_command", metavar="ACTION", required=True, parser_class=_Parser)
    q = lsub.add_parser("stats", help="counts of photos, decisions and tags")
    q.add_argument("--json", action="store_true")
    _add_library(q)
    q = lsub.add_parser("export", help="write the whole library as JSON (backup)")
    q.add_argument("file", metavar="FILE")
    _add_library(q)
    q = lsub.add_parser("import", help="merge a JSON backup into the library")
    q.add_argument("file", metavar="FILE")
    _add_library(q)
    q = lsub.add_parser("check", help="is the library damaged? (SQLite's integrity_check; "
                        "exit 1 when damaged)",
                        description="Check the whole library file with SQLite's integrity_check "
                        "(seconds for a large library), read-only. Exit 0: intact; 1: damaged "
                        "(what SQLite found is listed; `hashlens library repair` recovers).")
    q.add_argument("--quick", action="store_true",
                   help="quick_check: skips comparing each index with its table (faster)")
    q.add_argument("--json", action="store_true")
    _add_library(q)
    q = lsub.add_parser("repair", help="copy what can be read of a damaged library into a new "
                        "one (the damaged file is kept)",
                        description="Copy everything SQLite can still read of a damaged library "
                        "into a new library, rebuild what is derived from the decisions, check "
                        "it, and put it in place; the damaged file is kept beside it as "
                        "library.sqlite3.damaged-DATE and never written. Close the app and any "
                        "`hashlens watch` first.")
    q.add_argument("--output", metavar="DIR",
                   help="write the repaired library into DIR instead (the damaged one stays "
                   "where it is)")
    q.add_argument("--force", action="store_true",
                   help="rebuild the library even when SQLite finds no damage")
    q.add_argument("--json", action="store_true")
    _add_library(q)


def _add_trends_command(sub) -> None:
    """`hashlens trends import|list|clear`."""
    p = sub.add_parser("trends", help="trending hashtag lists: import, list, clear")
    tsub = p.add_subparsers(dest="trends_command", metavar="ACTION", required=True, parser_class=_Parser)
    q = tsub.add_parser("import", help="import a trending list (.txt or .csv; - reads a paste on stdin)")
    q.add_argument("file", metavar="FILE")
    q.add_argument("--days", type=int, default=7, metavar="N", help="it expires N days after its date (default 7)")
    q.add_argument("--date", metavar="YYYY-MM-DD", help="the list's date (default: a date in the file, else today)")
    q.add_argument("--json", action="store_true", help="print the import report as JSON")
    _add_library(q)
    q = tsub.add_parser("list", help="the imported lists, active and expired")
    q.add_argument("--json", action="store_true")
    q.add_argument("--tags", action="store_true", help="also print each list's tags")
    _add_library(q)
    q = tsub.add_parser("clear", help="remove all lists (or only the expired ones)")
    q.add_argument("--expired", action="store_true", help="only the expired lists")
    _add_library(q)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hashlens",
        description="Caption photos, suggest Instagram hashtags, and learn which ones you like. "
        "Run without a command to open the desktop app; `hashlens PATH...` opens it with those "
        "photos and folders.",
    )
    parser.add_argument("--version", action="store_true",
                        help="print the version, what runs the model, and where the licences are")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debugging detail to stderr")
    parser.add_argument("--self-test", action="store_true",
                        help="tag the shipped sample photo, print the result and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("tag", help="caption photos and suggest hashtags",
                       description="Caption photos (files or folders, recursive) and suggest hashtags.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="photos or folders")
    p.add_argument("--json", action="store_true",
                   help="one JSON object per photo per line on stdout")
    p.add_argument("--top", type=int, default=10, metavar="K", help=f"hashtags per photo (default 10, max {MAX_HASHTAGS})")
    p.add_argument("--beam", type=int, default=3, metavar="N", help="beam width (1 = greedy; default 3)")
    p.add_argument("--model", metavar="BUNDLE", help="a model bundle folder (default: the shipped model)")
    p.add_argument("--style", choices=["joined", "underscored"], default="joined",
                   help="#teddybear (joined, default) or #teddy_bear")
    p.add_argument("--batch-size", type=int, default=16, metavar="N")
    p.add_argument("--no-library", action="store_true", help="do not personalise or record")
    p.add_argument("--attention", action="store_true",
                   help="with --json: each word's attention grid (the detected boxes are always there)")
    _add_library(p)

    p = sub.add_parser("feedback", help="approve, reject or add hashtags for a photo")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--approve", nargs="+", default=[], metavar="TAG")
    p.add_argument("--reject", nargs="+", default=[], metavar="TAG")
    p.add_argument("--add", nargs="+", default=[], metavar="TAG")
    p.add_argument("--remove", nargs="+", default=[], metavar="TAG", help="undo an earlier approval or add")
    _add_library(p)

    p = sub.add_parser("watch", help="tag new photos in folders until Ctrl-C")
    p.add_argument("folders", nargs="+", metavar="FOLDER")
    p.add_argument("--model", metavar="BUNDLE")
    p.add_argument("--auto-approve", type=float, default=None, metavar="T",
                   help="approve suggested hashtags scoring at least T (0..1; default: never)")
    p.add_argument("--xmp", action="store_true",
                   help="write an XMP sidecar next to each photo when tags are approved")
    _add_sidecar_name(p)
    _add_library(p)

    _add_library_command(sub)

    p = sub.add_parser("export", help="write approved hashtags for Instagram, txt, csv or XMP")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=["instagram", "txt", "csv", "xmp"], default="instagram")
    p.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout (txt/csv/instagram)")
    p.add_argument("--with-caption", action="store_true", help="put the caption before the hashtags")
    p.add_argument("--mix", action=argparse.BooleanOptionalAction, default=True,
                   help="over 30 approved tags: keep a mix of broad, medium and niche ones "
                   "(default) rather than the first 30")
    _add_sidecar_name(p)
    _add_library(p)

    _add_trends_command(sub)

    p = sub.add_parser("train", help="train a captioner on Flickr8k- or COCO-style data")
    from .captioning.train_args import add_train_arguments

    add_train_arguments(p)

    p = sub.add_parser("evaluate", help="score a captioner: BLEU-1..4, ROUGE-L, CIDEr")
    p.add_argument("--data", required=True, metavar="DIR", help="dataset folder (Flickr8k layout) or COCO json")
    p.add_argument("--split", default="test", choices=["train", "dev", "test"])
    p.add_argument("--model", metavar="BUNDLE")
    p.add_argument("--beam", type=int, default=3, metavar="N")
    p.add_argument("--limit", type=int, default=0, metavar="N", help="only the first N photos")
    p.add_argument("--output", metavar="FILE", help="write the scores (and captions) as JSON here")
    p.add_argument("--update-card", action="store_true", help="write the scores into the bundle's MODEL_CARD.md")
    return parser


def _progress_printer(quiet: bool):
    """Progress (count, rate, ETA) on stderr: a rewritten line on a terminal, else sparse lines."""
    import time

    last = [0.0]
    tty = sys.stderr.isatty()

    def show(pr):
        now = time.monotonic()
        if quiet or (not tty and pr.done < pr.total and now - last[0] < 5):
            return
        last[0] = now
        eta = f", ETA {pr.eta_s:.0f}s" if pr.eta_s is not None and pr.done < pr.total else ""
        fail = f", {pr.failed} failed" if pr.failed else ""
        msg = f"{pr.done}/{pr.total} photos, {pr.rate:.1f}/s{eta}{fail}"
        sys.stderr.write(("\r" + msg + " " * 8) if tty else msg + "\n")
        if tty and pr.done >= pr.total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _print_human(res, top: int) -> None:
    print(res.path)
    if res.error:
        print(f"  error: {res.error}")
        return
    cap = res.caption
    print(f"  caption: {cap.caption}  (confidence {cap.confidence:.0%})")
    if cap.source == "detections":
        print("  (made from what the detectors saw: the captioner's own caption was unsure)")
    elif cap.source == "grounded":
        print(f"  (words the detectors contradicted were replaced; the captioner said \"{cap.original}\")")
    if res.detections:
        seen = sorted({d.label for d in res.detections if d.kind == "object"})
        faces = sum(d.kind == "face" for d in res.detections)
        print("  seen: " + ", ".join(seen + ([f"{faces} face{'s' * (faces > 1)}"] if faces else [])))
    if cap.confidence < LOW_CONFIDENCE:
        print("  the model is unsure about this photo: it learned from people, animals and outdoor "
              "scenes, and this caption is likely wrong")
    else:
        low = [cap.tokens[i] for i in cap.unsure_indices()]
        if low:
            print(f"  unsure of: {', '.join(low)}")
    tags = " ".join(h.tag for h in res.hashtags[:top])
    print(f"  hashtags: {tags}" if tags else "  hashtags: (none)")


def cmd_tag(args) -> int:
    from .pipeline import Pipeline, TagOptions

    if not 1 <= args.top <= MAX_HASHTAGS:
        raise _UsageError(f"--top must be between 1 and {MAX_HASHTAGS}")
    if args.beam < 1:
        raise _UsageError("--beam must be at least 1")
    opts = TagOptions(beam=args.beam, top_k=args.top, style=args.style, batch_size=args.batch_size)
    pipe = Pipeline(model=args.model, library_dir=args.library, options=opts, use_library=not args.no_library)
    failed = seen = 0
    try:
        for res in pipe.tag_paths(args.paths, on_progress=_progress_printer(quiet=False)):
            seen += 1
            failed += 0 if res.ok else 1
            if args.json:
                print(json.dumps(res.to_json(attention=args.attention), ensure_ascii=False), flush=True)
            else:
                _print_human(res, args.top)
    finally:
        pipe.close()
    if pipe.library_warning:
        print(f"hashlens: warning: {pipe.library_warning}", file=sys.stderr)
    if not seen:
        where = ", ".join(str(p) for p in args.paths)
        print(f"hashlens: no photos found in {where} (JPEG, PNG, HEIC, ... files; folders are "
              "searched with their subfolders)", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_FAILED if failed else EXIT_OK


def cmd_feedback(args) -> int:
    from .pipeline import Pipeline

    if not (args.approve or args.reject or args.add or args.remove):
        raise _UsageError("give at least one of --approve, --reject, --add, --remove")
    pipe = Pipeline(library_dir=args.library)
    try:
        state = pipe.feedback(args.path, approve=args.approve, reject=args.reject, add=args.add,
                              remove=args.remove)
    finally:
        pipe.close()
    for tag, what in sorted(state.items()):
        print(f"{tag}\t{what}")
    return EXIT_OK


def _open_library(folder):
    from .library.store import TagLibrary
    from .paths import data_dir

    # stats and export may not write: SQLite's check runs before a write (an import's) instead
    lib = TagLibrary.open(data_dir(folder), background_check=False)
    if lib.note:
        print(f"hashlens: note: {lib.note}", file=sys.stderr)
    return lib


def _library_check(args) -> int:
    from .library import integrity
    from .paths import data_dir

    found = integrity.diagnose(data_dir(args.library) / integrity.DB_NAME, full=not args.quick)
    if args.json:
        print(json.dumps(found.to_json()))
    elif found.ok:
        print(f"{found.path}: intact (SQLite's {found.check}: ok, {found.seconds:.1f} s)")
    else:
        print(f"{found.path}: DAMAGED")
        for line in found.findings or (f"{found.error}{': ' + found.detail if found.detail else ''}",):
            print(f"  {line}")
    if not found.ok:
        print(f"hashlens: {found.message()}", file=sys.stderr)
    return EXIT_OK if found.ok else EXIT_FAILED


def _library_repair(args) -> int:
    from .library.repair import repair
    from .paths import data_dir

    report = repair(data_dir(args.library), output=args.output, force=args.force)
    if args.json:
        print(json.dumps(report.to_json()))
        return EXIT_OK
    if not report.done:
        print(f"{report.path}: intact ({report.before.what}); nothing to repair "
              "(--force rebuilds it anyway)")
        return EXIT_OK
    print(f"repaired the tag library: {report.output}")
    if not report.before.ok:
        print(f"  found: {report.before.what}")
    if report.source:
        print(f"  read: {report.source}")
    for table, t in report.tables.items():
        if not (t.read or t.unreadable):
            continue
        extra = [f"{n} {what}" for n, what in (
            (t.unreadable, "unreadable parts skipped"), (t.indexed, "read through an index"),
            (t.partial, "saved in part"), (t.invalid, "with damaged values left out"),
            (t.orphans, "of lost photos left out")) if n]
        print(f"  {table}: {t.copied} kept" + (f" ({', '.join(extra)})" if extra else ""))
    print(f"  SQLite's integrity_check of the new library: {'; '.join(report.after)}")
    if report.kept is not None:
        print(f"  the damaged file is kept as {report.kept} (it was not changed)")
    else:
        print(f"  the damaged library was left as it is at {report.path}")
    return EXIT_OK


def cmd_library(args) -> int:
    if args.library_command == "check":
        return _library_check(args)
    if args.library_command == "repair":
        return _library_repair(args)
    checked = None
    if args.library_command == "import":  # a bad file is refused before a library is opened
        from .library.import_check import load_export

        checked = load_export(args.file)
    with _open_library(args.library) as lib:
        if args.library_command == "stats":
            found = lib.verify()  # counts read from a damaged file would be wrong
            if not found.ok:
                raise LibraryError(found.message("count what it holds"))
            stats = lib.stats()
            if args.json:
                print(json.dumps(stats))
            else:
                for k, v in stats.items():
                    print(f"{k}: {v}")
        elif args.library_command == "export":
            lib.export_json(args.file)
            print(f"exported the library to {args.file}", file=sys.stderr)
        else:
            report = lib.import_json(args.file, checked)
            print(json.dumps(report))
    return EXIT_OK


def cmd_export(args) -> int:
    from .export.run import run_export

    return run_export(args)


def cmd_trends(args) -> int:
    from .tagging.trends import run_trends

    return run_trends(args)


def cmd_watch(args) -> int:
    from .watch.headless import run_watch

    return run_watch(args)


def cmd_train(args) -> int:
    from .captioning.image_encoder import require_tensorflow

    require_tensorflow("training")
    from .captioning.train import run_training

    return run_training(args)


def cmd_evaluate(args) -> int:
    from .captioning.evaluate import run_evaluation

    return run_evaluation(args)


def cmd_self_test(args) -> int:
    from .selftest import run_self_test

    return run_self_test()


class _UsageError(Exception):
    pass


COMMANDS = {
    "tag": cmd_tag,
    "feedback": cmd_feedback,
    "watch": cmd_watch,
    "library": cmd_library,
    "export": cmd_export,
    "trends": cmd_trends,
    "train": cmd_train,
    "evaluate": cmd_evaluate,
}


def version_text() -> str:
    """`hashlens --version`: cheap (reads no model), so it also works with a damaged install."""
    from .captioning.image_encoder import runtime_description
    from .paths import model_assets_dir, notices_path

    try:
        meta = json.loads((model_assets_dir() / "captioner" / "config.json").read_text(encoding="utf-8"))
        model = str(meta.get("model_version", "unknown"))
    except (OSError, ValueError, AttributeError):
        model = "missing (reinstall hashlens)"
    try:
        runtime = runtime_description()
    except HashlensError as exc:
        runtime = str(exc)
    return "\n".join([
        f"hashlens {__version__}",
        f"model: {model}",
        f"runs on: {runtime}",
        f"licence: MIT (LICENSE); third-party notices: {notices_path()}",
    ])


def gui_paths(argv: list[str]) -> list[str] | None:
    """`hashlens PATH...` (a file manager's "Open with"): the photos and folders to open in the
    window, when the first word that is not an option names an existing file or folder rather
    than a command; else None. Pure: decides without importing Qt."""
    import os

    words = [a for a in argv if not a.startswith("-")]
    if not words or words[0] in COMMANDS or not os.path.exists(words[0]):
        return None
    return words


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    paths = gui_paths(argv)
    if paths is not None:  # only options may come with them (-v)
        argv = [a for a in argv if a.startswith("-")]
    args = parser.parse_args(argv)
    from .logsetup import setup_logging

    setup_logging(args.verbose)
    try:
        if args.version:
            print(version_text())
            return EXIT_OK
        if args.self_test:
            return cmd_self_test(args)
        if args.command is None:
            from .ui.app import run_gui

            if paths:
                import os

                for p in (p for p in paths if not os.path.exists(p)):
                    print(f"hashlens: warning: {p} does not exist", file=sys.stderr)
                paths = [p for p in paths if os.path.exists(p)]
            return run_gui(paths=paths)
        return COMMANDS[args.command](args)
    except _UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"hashlens: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except HashlensError as exc:
        print(f"hashlens: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("hashlens: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
