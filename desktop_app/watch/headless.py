"""`hashlens watch FOLDER...`: tag new photos until Ctrl-C.

stdout: one line per tagged photo, `path<TAB>#tag #tag ...` (for scripts and pipes); stderr:
everything else (photos found, moves, failures, folders gone and back). Ctrl-C stops after the
photo in hand and exits 0; the queue is kept for next time.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from .service import WatchOptions, WatchResult, WatchService

EXIT_OK, EXIT_FAILED = 0, 1


def _line(wr: WatchResult) -> None:
    if wr.status == "tagged" and wr.result is not None:
        tags = " ".join(h.tag for h in wr.result.hashtags)
        print(f"{wr.path}\t{tags}", flush=True)
        if wr.approved:
            print(f"hashlens: approved {' '.join(wr.approved)} for {wr.path}"
                  + (f" (sidecar {wr.sidecar})" if wr.sidecar else ""), file=sys.stderr)
        if wr.error:
            print(f"hashlens: warning: {wr.path}: {wr.error}", file=sys.stderr)
    elif wr.status == "known":
        where = f" (was {wr.previous_path})" if wr.previous_path and wr.previous_path != wr.path else ""
        print(f"hashlens: already tagged: {wr.path}{where}", file=sys.stderr)
    else:
        print(f"hashlens: could not tag {wr.path}: {wr.error}", file=sys.stderr)
    sys.stderr.flush()


def _notice(text: str) -> None:
    print(f"hashlens: {text}", file=sys.stderr, flush=True)


def _summary(service: WatchService, folders: list[str], reported: set[str]) -> str:
    """'stopped: 2 tagged this run, 0 queued, 1 failed': failures counted in the watched folders
    only, and those not reported during this run named (an earlier run's), so a count never
    stands for a photo the user cannot find."""
    def inside(path: str) -> bool:
        return any(path == f or path.startswith(f.rstrip(os.sep) + os.sep) for f in folders)

    failures = service.queue.failures()
    here = [f for f in failures if inside(f.path)]
    text = (f"stopped: {service.tagged} tagged this run, {service.counts()['queued']} queued, "
            f"{len(here)} failed")
    earlier = [f"{f.path} ({f.error})" for f in here if f.path not in reported]
    if earlier:
        more = f" and {len(earlier) - 5} more" if len(earlier) > 5 else ""
        text += (f"; failed on an earlier run: {'; '.join(earlier[:5])}{more} (tried again when "
                 "the file changes)")
    elsewhere = len(failures) - len(here)
    if elsewhere:
        text += f"; {elsewhere} more in folders not watched now"
    return text


def run_watch(args, pipeline=None, stop_event: threading.Event | None = None,
              observer_factory=None, options: WatchOptions | None = None) -> int:
    """Run until Ctrl-C (or SIGTERM, or `stop_event` for tests). pipeline: a shared or fake one."""
    from ..errors import HashlensError
    from ..pipeline import Pipeline

    folders = [os.path.abspath(os.path.expanduser(f)) for f in args.folders]
    missing = [f for f in folders if not os.path.isdir(f)]
    if len(missing) == len(folders):
        _notice(f"error: not a folder: {', '.join(missing)}")
        return EXIT_FAILED
    for f in missing:
        _notice(f"warning: {f} is not a folder (yet); it is watched for")
    own = pipeline is None
    if own:
        pipeline = Pipeline(model=getattr(args, "model", None), library_dir=getattr(args, "library", None))
    threshold = getattr(args, "auto_approve", None)
    if options is None:
        options = WatchOptions(auto_approve=threshold, write_xmp=bool(getattr(args, "xmp", False)),
                               sidecar_name=getattr(args, "sidecar_name", "append"))
    stop = stop_event or threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        reported: set[str] = set()  # photos whose failure was said this run

        def line(wr: WatchResult) -> None:
            if wr.status == "failed":
                reported.add(wr.path)
            _line(wr)

        try:
            service = WatchService(pipeline, folders, on_result=line, on_notice=_notice,
                                   options=options, observer_factory=observer_factory)
        except HashlensError as exc:
            _notice(f"error: {exc}")
            return EXIT_FAILED
        _notice(f"watching {len(folders)} folder(s); Ctrl-C to stop")
        service.start()
        try:
            while service.running and not stop.is_set():
                stop.wait(0.5)  # the main thread stays responsive to Ctrl-C
        except KeyboardInterrupt:
            _notice("stopping…")
        finally:
            service.stop()
        _notice(_summary(service, folders, reported))
        return EXIT_FAILED if service.error else EXIT_OK
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if own:
            pipeline.close()
