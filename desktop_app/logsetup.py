"""Logging: warnings to stderr (everything with --verbose), a rotating log file always."""

from __future__ import annotations

import logging
import logging.handlers
import sys

from .paths import log_dir


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record is emitted (not when it was set up), so
    a redirected or captured stderr never leaves the handler writing to a closed stream."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def setup_logging(verbose: bool = False) -> None:
    root = logging.getLogger()
    if getattr(root, "_hashlens_configured", False):
        return
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    console = _CurrentStderr()
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("hashlens: %(levelname)s: %(message)s"))
    root.addHandler(console)
    try:
        folder = log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        fh = logging.handlers.RotatingFileHandler(
            folder / "hashlens.log", maxBytes=1_000_000, backupCount=3, encoding="utf-8"
        )
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(fh)
    except OSError:  # a read-only home must not stop the app
        pass
    root._hashlens_configured = True  # type: ignore[attr-defined]
