"""The webhook receiver `up` starts: `python -m stack.webhook --port P --file F` appends every
notification it is sent (the automations' notification block posts to it) to a JSON-lines file."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from stack.settings import HOST, StackSettings

log = logging.getLogger(__name__)


def serve_webhook(port: int, path: Path) -> None:
    """Append each POSTed JSON body, with the time it came, as a line of `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                message: Any = json.loads(raw)
            except ValueError:
                message = raw.decode(errors="replace")
            line = json.dumps({"time": time.time(), "path": self.path, "message": message})
            with lock, path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            log.info("%s %s", self.address_string(), format % args)

    server = ThreadingHTTPServer((HOST, port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    log.info("webhook receiver on http://%s:%d, writing %s", HOST, port, path)
    server.serve_forever()


def read_notifications(settings: StackSettings) -> list[dict[str, Any]]:
    if not settings.notifications.is_file():
        return []
    lines = settings.notifications.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack.webhook", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    serve_webhook(args.port, args.file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
