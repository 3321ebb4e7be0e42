"""What every fake vendor server shares: an HTTP server on 127.0.0.1 at a free port, served
from a daemon thread, stopped by the fixture that started it.

A fake subclasses `FakeServer`, keeps its own state, and serves its request handler with
`serve(Handler)`; the handler reaches the fake's state through `self.fake`.
"""

import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class FakeServer:
    server: ThreadingHTTPServer

    def serve(
        self, handler: type[BaseHTTPRequestHandler], *, tls: ssl.SSLContext | None = None
    ) -> Self:
        """Start answering on a free port with `handler`, bound to this fake as `fake`."""
        bound = type(handler.__name__, (handler,), {"fake": self})
        # ThreadingHTTPServer's request threads are daemons: a test that leaves a request
        # hanging (a timeout test) does not keep pytest from exiting.
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), bound)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        """Where the fake answers, without a trailing slash."""
        scheme = "https" if isinstance(self.server.socket, ssl.SSLSocket) else "http"
        host, port = self.server.server_address[:2]
        return f"{scheme}://{host}:{port}"
