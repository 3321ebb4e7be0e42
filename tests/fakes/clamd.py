"""A local stand-in for ClamAV's daemon: speaks clamd's INSTREAM and PING over TCP or a
unix socket, and flags any stream containing the EICAR test string, as clamd does."""

import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        command = b""
        while not command.endswith((b"\0", b"\n")):
            byte = self.rfile.read(1)
            if not byte:
                return
            command += byte
        name = command.strip(b"\0\n").lstrip(b"zn")
        if name == b"PING":
            self.wfile.write(b"PONG\0")
            return
        if name != b"INSTREAM":
            self.wfile.write(b"UNKNOWN COMMAND\0")
            return
        data = b""
        while True:
            size = struct.unpack("!L", self.rfile.read(4))[0]
            if size == 0:
                break
            data += self.rfile.read(size)
        self.server.scanned.append(len(data))  # type: ignore[attr-defined]
        if EICAR in data:
            self.wfile.write(b"stream: Eicar-Test-Signature FOUND\0")
        else:
            self.wfile.write(b"stream: OK\0")


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _UnixServer(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True


@contextmanager
def fake_clamd(*, unix_path: str | None = None) -> Iterator[tuple[str, list[int]]]:
    """Runs the fake; yields its NEXUS_CLAMAV_SOCKET address and the sizes it scanned."""
    server: socketserver.BaseServer
    if unix_path:
        server = _UnixServer(unix_path, _Handler)
        address = f"unix://{unix_path}"
    else:
        server = _TCPServer(("127.0.0.1", 0), _Handler)
        address = f"tcp://127.0.0.1:{server.server_address[1]}"
    server.scanned = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield address, server.scanned  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def closed_tcp_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"
