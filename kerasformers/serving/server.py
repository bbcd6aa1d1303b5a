"""Running the app with uvicorn, in the foreground (CLI) or on a background thread (tests, benchmarks)."""

import socket
import threading
import time

import uvicorn


def _config(app, log_level):
    return uvicorn.Config(app, log_level=log_level, timeout_graceful_shutdown=2, access_log=False)


def run_server(app, host="127.0.0.1", port=8000, log_level="info"):
    """Serve until interrupted (Ctrl-C)."""
    config = _config(app, log_level)
    config.host, config.port = host, port
    uvicorn.Server(config).run()


class BackgroundServer:
    """The app on a free 127.0.0.1 port in a daemon thread: ``with BackgroundServer(app) as url: ...``."""

    def __init__(self, app, log_level="warning"):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        self.server = uvicorn.Server(_config(app, log_level))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()
