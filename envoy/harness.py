"""Start and stop the fake upstream and a real Envoy for Airlock's tests and demo.

Standard library only. Every process runs in its own process group and is
registered for stopping at interpreter exit as well, so a failing test or an
interrupted demo leaves nothing behind. Ports are chosen by the kernel (port 0)
and read back: the upstream prints its port, Envoy writes its admin address to
a file and reports its listener through the admin API.
"""

from __future__ import annotations

import atexit
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import config  # noqa: E402

_LIVE: list["Proc"] = []
_LIVE_LOCK = threading.Lock()


class StartError(RuntimeError):
    pass


def http(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
         timeout: float = 10.0) -> tuple[int, dict, bytes]:
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers.items()), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers.items()), e.read()


class Proc:
    def __init__(self, name: str, argv: list[str], log_path: str, env: dict | None = None,
                 stdout_pipe: bool = False) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout_pipe else self._log,
            stderr=self._log, env=env, start_new_session=True, cwd=REPO)
        with _LIVE_LOCK:
            _LIVE.append(self)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, n: int = 60) -> str:
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        p = self.popen
        if p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout)
        else:
            # the leader is gone; make sure no child of its group survived
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if p.stdout:
            p.stdout.close()
        self._log.close()
        with _LIVE_LOCK:
            if self in _LIVE:
                _LIVE.remove(self)


@atexit.register
def _stop_all() -> None:
    for p in list(_LIVE):
        try:
            p.stop(timeout=5)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def wait_until(pred, deadline_s: float, what: str, proc: Proc | None = None, every: float = 0.05):
    end = time.monotonic() + deadline_s
    last_exc: Exception | None = None
    while time.monotonic() < end:
        if proc is not None and not proc.alive():
            raise StartError(f"{proc.name} exited with {proc.popen.returncode} while waiting for "
                             f"{what}; log {proc.log_path}:\n{proc.log_tail()}")
        try:
            v = pred()
            if v:
                return v
        except Exception as exc:  # noqa: BLE001 - polled
            last_exc = exc
        time.sleep(every)
    tail = f"\nlog {proc.log_path}:\n{proc.log_tail()}" if proc else ""
    raise StartError(f"timed out after {deadline_s}s waiting for {what} (last error: {last_exc}){tail}")


# ---------------------------------------------------------------- upstream

class Upstream:
    def __init__(self, run_dir: str, python: str = sys.executable) -> None:
        os.makedirs(run_dir, exist_ok=True)
        self.proc = Proc("upstream", [python, "-u", os.path.join(HERE, "upstream.py"), "--port", "0"],
                         os.path.join(run_dir, "upstream.log"), stdout_pipe=True)
        line_box: list[str] = []

        def read_line() -> None:
            assert self.proc.popen.stdout is not None
            line_box.append(self.proc.popen.stdout.readline().decode())

        t = threading.Thread(target=read_line, daemon=True)
        t.start()
        wait_until(lambda: line_box and line_box[0], 20, "the upstream's port line", self.proc)
        line = line_box[0].strip()
        if "listening on" not in line:
            self.proc.stop()
            raise StartError(f"upstream printed {line!r}")
        self.port = int(line.rsplit(":", 1)[1])
        self.url = f"http://127.0.0.1:{self.port}"
        wait_until(lambda: http("GET", self.url + "/__health")[0] == 200, 20, "upstream health",
                   self.proc)

    def requests(self) -> list[dict]:
        status, _, body = http("GET", self.url + "/__requests")
        if status != 200:
            raise RuntimeError(f"/__requests answered {status}")
        out = json.loads(body)
        for r in out:
            r["body"] = base64.b64decode(r["body_b64"])
        return out

    def reset(self) -> None:
        http("POST", self.url + "/__reset", b"")

    def release(self, token: str) -> None:
        http("POST", self.url + f"/__release?token={token}", b"")

    def stop(self) -> None:
        self.proc.stop()


# ---------------------------------------------------------------- envoy

def find_envoy() -> str:
    cand = os.environ.get("AIRLOCK_ENVOY")
    if cand:
        return cand
    venv = os.path.join(REPO, ".venv", "bin", "envoy")
    if os.path.exists(venv):
        return venv
    found = shutil.which("envoy")
    if found:
        return found
    raise StartError("no envoy binary: run `bash envoy/setup.sh` (or set AIRLOCK_ENVOY)")


class Envoy:
    def __init__(self, run_dir: str, opts: config.Options | None, name: str = "envoy",
                 envoy_bin: str | None = None, concurrency: int = 2,
                 log_level: str = "info", component_log_level: str = "wasm:debug",
                 ready_deadline_s: float = 90.0, bootstrap_text: str | None = None) -> None:
        """Start Envoy on the bootstrap rendered from `opts`, or on `bootstrap_text` as given.

        The log captures Airlock's own messages at debug level (`wasm:debug`) and the rest
        of Envoy at info."""
        os.makedirs(run_dir, exist_ok=True)
        self.run_dir = run_dir
        self.opts = opts
        self.name = name
        self.config_path = os.path.join(run_dir, f"{name}.yaml")
        self.admin_path = os.path.join(run_dir, f"{name}.admin")
        self.log_path = os.path.join(run_dir, f"{name}.log")
        if os.path.exists(self.admin_path):
            os.unlink(self.admin_path)
        if bootstrap_text is not None:
            config.atomic_write(self.config_path, bootstrap_text)
        else:
            assert opts is not None
            config.write_bootstrap(self.config_path, opts)
        argv = [envoy_bin or find_envoy(), "-c", self.config_path,
                "--disable-hot-restart", "--concurrency", str(concurrency),
                "--admin-address-path", self.admin_path, "-l", log_level]
        if component_log_level:
            argv += ["--component-log-level", component_log_level]
        self.proc = Proc(name, argv, self.log_path)
        try:
            self.admin = "http://" + wait_until(self._admin_address, ready_deadline_s,
                                                f"{name} admin address", self.proc)
            wait_until(lambda: http("GET", self.admin + "/ready")[0] == 200, ready_deadline_s,
                       f"{name} /ready", self.proc)
            self.port = wait_until(self._listener_port, ready_deadline_s, f"{name} listener",
                                   self.proc)
        except BaseException:
            self.proc.stop()
            raise
        self.url = f"http://127.0.0.1:{self.port}"

    def _admin_address(self) -> str | None:
        try:
            with open(self.admin_path) as f:
                a = f.read().strip()
        except FileNotFoundError:
            return None
        return a or None

    def _listener_port(self) -> int | None:
        status, _, body = http("GET", self.admin + "/listeners?format=json")
        if status != 200:
            return None
        for ls in json.loads(body).get("listener_statuses", []):
            port = ls.get("local_address", {}).get("socket_address", {}).get("port_value")
            if port:
                return int(port)
        return None

    # admin helpers
    def stats(self, filter_re: str | None = None) -> dict[str, int]:
        q = "/stats?format=json" + (f"&filter={urllib.request.quote(filter_re)}" if filter_re else "")
        _, _, body = http("GET", self.admin + q)
        out = {}
        for s in json.loads(body).get("stats", []):
            if "value" in s:
                out[s["name"]] = s["value"]
        return out

    def prometheus(self) -> str:
        status, _, body = http("GET", self.admin + "/stats/prometheus")
        if status != 200:
            raise RuntimeError(f"/stats/prometheus answered {status}")
        return body.decode()

    def log_text(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def alive(self) -> bool:
        return self.proc.alive()

    def stop(self) -> None:
        self.proc.stop()
