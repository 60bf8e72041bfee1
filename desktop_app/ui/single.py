"""One window per user and library: a second `hashlens [PATH...]` hands its paths to the running
window (which adds them and comes to the front) and exits.

The running app listens on a QLocalServer (a Unix socket, a named pipe on Windows) named after
the user and the data folder, so a test's or a second library's app never answers for another.
The message is one line of JSON, `{"paths": [...]}`; the window answers "ok" once it took them.
When QtNetwork is missing (a trimmed bundle), every launch simply opens its own window.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
from collections.abc import Callable

from PySide6.QtCore import QObject

log = logging.getLogger(__name__)

CONNECT_MS, REPLY_MS = 300, 3000


def server_name(library_dir: str | None = None) -> str:
    """The socket of the window for this user and library folder (Settings' folder, else the
    default data folder)."""
    from ..paths import data_dir

    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    where = hashlib.sha1(str(data_dir(library_dir).resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"hashlens-{user}-{where}"


def _network():
    try:
        from PySide6 import QtNetwork
    except ImportError:  # a bundle without QtNetwork: no hand-over, no harm
        return None
    return QtNetwork


def hand_over(paths: list[str], name: str | None = None) -> bool:
    """Give `paths` to a running window; True when it took them (then this launch is done)."""
    net = _network()
    if net is None:
        return False
    sock = net.QLocalSocket()
    sock.connectToServer(name or server_name())
    if not sock.waitForConnected(CONNECT_MS):
        return False
    sock.write(json.dumps({"paths": list(paths)}).encode("utf-8") + b"\n")
    sock.waitForBytesWritten(REPLY_MS)  # (False when flush() already sent everything)
    answer = b""
    while b"\n" not in answer and sock.waitForReadyRead(REPLY_MS):
        answer += bytes(sock.readAll().data())
    answer = answer.strip()
    sock.disconnectFromServer()
    return answer == b"ok"


class InstanceServer(QObject):
    """Listens for later launches; `on_paths(paths)` runs on the GUI thread for each."""

    def __init__(self, on_paths: Callable[[list[str]], None], name: str | None = None, parent=None):
        super().__init__(parent)
        self.on_paths = on_paths
        self.name = name or server_name()
        self.server = None
        self._buffers: dict[object, bytes] = {}

    def listen(self) -> bool:
        net = _network()
        if net is None:
            return False
        self.server = net.QLocalServer(self)
        self.server.setSocketOptions(net.QLocalServer.SocketOption.UserAccessOption)
        if not self.server.listen(self.name):
            net.QLocalServer.removeServer(self.name)  # left behind by a crash: nobody answered
            if not self.server.listen(self.name):
                log.warning("second launches cannot hand over their photos: %s", self.server.errorString())
                return False
        self.server.newConnection.connect(self._accept)
        return True

    def _accept(self) -> None:
        while self.server is not None and self.server.hasPendingConnections():
            sock = self.server.nextPendingConnection()
            self._buffers[sock] = b""
            sock.readyRead.connect(lambda s=sock: self._read(s))
            sock.disconnected.connect(lambda s=sock: self._buffers.pop(s, None))

    def _read(self, sock) -> None:
        data = self._buffers.get(sock, b"") + bytes(sock.readAll().data())
        self._buffers[sock] = data
        if b"\n" not in data:
            return
        line = data.split(b"\n", 1)[0]
        try:
            paths = [str(p) for p in json.loads(line.decode("utf-8")).get("paths", [])]
        except (ValueError, AttributeError, UnicodeDecodeError):
            log.warning("ignored a malformed hand-over from a second launch")
            sock.disconnectFromServer()
            return
        sock.write(b"ok\n")
        sock.flush()
        self.on_paths(paths)

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
            self.server = None


class FileOpenFilter(QObject):
    """macOS gives the app the photos opened with it ("Open with", a drop on its Dock icon) as
    FileOpen events, not as arguments: they go where a second launch's paths go."""

    def __init__(self, open_paths: Callable[[list[str]], None], parent: QObject | None = None):
        super().__init__(parent)
        self._open = open_paths

    def eventFilter(self, watched: QObject, event) -> bool:  # noqa: N802 (Qt's name)
        from PySide6.QtCore import QEvent

        if event.type() == QEvent.Type.FileOpen:
            path = event.file() or event.url().toLocalFile()
            if path:
                self._open([path])
                return True
        return False
