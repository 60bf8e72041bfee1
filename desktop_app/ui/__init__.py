"""The PySide6 desktop app. Only this package imports Qt."""

from __future__ import annotations

import sys


def _pin_true_if_emit_leaks() -> bool:
    """Work around PySide6 6.12.0 dropping a reference to True on every `Signal.emit()`.

    `SignalInstance.emit` there returns `True` without taking a new reference. On Python 3.11
    (where True is not immortal) a few thousand emits make True's reference count reach zero
    and the interpreter aborts ("bool_dealloc: deallocating True or False"), usually at exit.
    We probe once: if an emit loses a reference, True gets a huge extra count so it can never
    reach zero. Python 3.12+ (immortal bools) and fixed PySide6 versions are left alone.
    Returns whether the workaround was applied.
    """
    if sys.version_info >= (3, 12) or hasattr(sys, "gettotalrefcount"):  # immortal / debug build
        return False
    import ctypes

    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.ping.emit()
    if sys.getrefcount(True) >= before:
        return False
    ctypes.c_ssize_t.from_address(id(True)).value += 1 << 40
    return True


EMIT_WORKAROUND = _pin_true_if_emit_leaks()
