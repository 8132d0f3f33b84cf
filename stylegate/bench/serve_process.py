"""`stylegate serve` in a child process on a free loopback port, for benchmarks and tests.

The child is the real command (``python -m stylegate --home H serve --workers N``), so what
is measured or tested is what an operator runs: uvicorn's supervisor and its worker processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

from stylegate.errors import StylegateError

STARTUP_LIMIT_S = 240.0  # how long to wait for the first answer (two cold workers on a busy CPU)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    """``stylegate serve --workers N`` over ``home``; ``env`` adds ``STYLEGATE_*`` settings.

    The child's environment holds no ``STYLEGATE_*`` variable of this process except the model
    cache, so only what ``env`` says (and the home) decides its settings.
    """

    def __init__(self, home: Path, workers: int, log_path: Path, env: dict[str, str] | None = None) -> None:
        self.home, self.workers, self.log_path = home, workers, log_path
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        keep = {"STYLEGATE_MODEL_CACHE_DIR"}
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("STYLEGATE_") or k in keep}
        self.env.update({"STYLEGATE_DEVICE": "cpu", **(env or {})})
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServeProcess:
        import httpx

        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "stylegate", "--home", str(self.home), "serve", "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", str(self.workers)],
                stdout=log, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + STARTUP_LIMIT_S
        while True:
            if self.proc.poll() is not None:
                raise StylegateError(f"stylegate serve exited ({self.proc.returncode}) before it answered:\n{self.log()}")
            try:
                if httpx.get(self.base_url + "/", timeout=5).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise StylegateError(f"stylegate serve did not answer within {STARTUP_LIMIT_S:g} s:\n{self.log()}")
            time.sleep(0.25)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def stop(self, timeout_s: float = 30.0) -> int | None:
        """SIGTERM to the supervisor (it stops its workers), SIGKILL to the group if it hangs."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(10)

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
