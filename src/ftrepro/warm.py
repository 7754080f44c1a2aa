"""Run the Python scripts of a local Snakemake run in forks of one warm interpreter.

Every job of the pipeline is a Python script that imports torch and transformers before it does
anything: 5 s of imports on an idle core, 10-15 s on a loaded 2-core machine, for jobs whose work
takes a second or two (the tiny preset). Here a server imports those modules once, then forks
a child per job: the child is a fresh process with the job's arguments, working directory,
environment and standard streams (passed over a Unix socket), and runs the job's script
(`runpy`) with the modules already in memory. The DAG is unchanged: one Snakemake job per model,
each with its own log, exit status and process; only the imports are shared.

    python -m ftrepro.warm snakemake [snakemake arguments]   # a local run through a warm server
    python -m ftrepro.warm serve SOCKET                      # the server alone
    python -m ftrepro.warm run [--usage FILE] SCRIPT         # one script through $FTREPRO_WARM_SOCKET

`snakemake` runs Snakemake in this process with its Python `script:` jobs sent to the server
(`route_scripts`: only jobs without a conda env or container; the others, and every job when
the server cannot be reached, start their own interpreter as usual). A job killed by Snakemake
closes its connection and the server kills the job's process group. Snakemake's `benchmark:`
files would measure the client, not the job: the server sends the client the job's own resource
usage (CPU seconds, peak RSS, blocks read and written, from wait4), which goes into the job's
benchmark record (`cpu_time`, `max_rss`, `mean_load`, `io_in`, `io_out`; `max_vms`, `max_uss` and
`max_pss` read NA: not measured for a warm job). The server keeps the modules it imported at its start: library code edited during a run reaches the
later jobs only where they import it afresh, so rerun after such an edit.

Nothing here imports torch at module level: the client must start in milliseconds.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import json
import os
import random
import runpy
import selectors
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

SOCKET_ENV = "FTREPRO_WARM_SOCKET"
PRELOAD_ENV = "FTREPRO_WARM_PRELOAD"  # comma-separated modules instead of PRELOAD (tests)
# What the pipeline's scripts import: torch, transformers and every ftrepro module that pulls
# them in (a module missing here is imported by the job itself, as without the server).
PRELOAD = (
    "torch",
    "transformers",
    "transformers.trainer",
    "peft",
    "pandas",
    "matplotlib.pyplot",
    "seqeval.metrics",
    "rouge_score.rouge_scorer",
    "ftrepro.data.sources",
    "ftrepro.data.stats",
    "ftrepro.models.base",
    "ftrepro.train.causal",
    "ftrepro.train.multihead",
    "ftrepro.train.seq2seq",
    "ftrepro.train.launch",
    "ftrepro.infer.causal",
    "ftrepro.infer.multihead",
    "ftrepro.infer.seq2seq",
    "ftrepro.evaluate",
    "ftrepro.papers.zhao2025.predict",
    "ftrepro.papers.zhao2025.report",
    "ftrepro.papers.gupta2023.decoder_only",
    "ftrepro.papers.gupta2023.report",
    "ftrepro.papers.band2025.annotate",
    "ftrepro.papers.band2025.lora",
    "ftrepro.papers.band2025.models",
    "ftrepro.papers.band2025.predict",
    "ftrepro.papers.band2025.report",
    "ftrepro.papers.band2025.train",
    "ftrepro.report.html",
)
_HEADER = struct.Struct("!Q")
# what the server sends back when a job ends: its exit status, then its own usage: CPU seconds
# (user + system), peak RSS (KiB), blocks read and written (512 bytes each)
_RESULT = struct.Struct("!idqqq")
_POLL_S = 0.05


# --------------------------------------------------------------------------- client


def run(argv: Sequence[str], socket_path: str | None = None, usage_path: str | None = None) -> int:
    """Run `python argv...` in a fork of the warm server at `socket_path` (default
    $FTREPRO_WARM_SOCKET) with this process's cwd, environment and standard streams; return its
    exit status, and write the job's resource usage to `usage_path` as JSON. Without a reachable
    server, exec a fresh interpreter instead (never returns; it is then the measured process)."""
    socket_path = socket_path or os.environ.get(SOCKET_ENV)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if not socket_path:
            raise OSError(f"${SOCKET_ENV} is not set")
        sock.connect(socket_path)
        request = json.dumps({"argv": list(argv), "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        socket.send_fds(sock, [_HEADER.pack(len(request)) + request], [0, 1, 2])
    except OSError as error:
        sock.close()
        print(f"ftrepro.warm: no server ({error}); running {argv[0]} in a new interpreter", file=sys.stderr)
        os.execv(sys.executable, [sys.executable, *argv])
    reply = _recv_exactly(sock, _RESULT.size)
    if len(reply) < _RESULT.size:
        print("ftrepro.warm: the server closed the connection before the job ended", file=sys.stderr)
        return 1
    status, cpu_s, max_rss_kib, blocks_in, blocks_out = _RESULT.unpack(reply)
    if usage_path:
        mib = 1024 * 1024
        usage = {
            "cpu_s": cpu_s,
            "max_rss_mb": max_rss_kib * 1024 / mib,
            "io_in_mb": blocks_in * 512 / mib,
            "io_out_mb": blocks_out * 512 / mib,
        }
        Path(usage_path).write_text(json.dumps(usage))
    return status


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


# --------------------------------------------------------------------------- server


def serve(
    socket_path: str | Path, preload: Iterable[str] = PRELOAD, idle_timeout: float | None = None
) -> None:
    """Listen on `socket_path`, import `preload`, then fork one child per request until SIGTERM
    (or `idle_timeout` seconds without a job). Requests queue while the imports run."""
    socket_path = str(socket_path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path)
    listener.listen(128)
    signal.signal(signal.SIGTERM, _raise_exit)
    start = time.monotonic()
    for name in preload:
        try:
            importlib.import_module(name)
        except Exception as error:  # a job importing it reports the real error
            _say(f"preload {name} failed: {error!r}")
    _say(f"ready in {time.monotonic() - start:.1f} s ({len(sys.modules)} modules)")
    jobs: dict[int, socket.socket] = {}
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    last_activity = time.monotonic()
    try:
        while True:
            for key, _ in selector.select(timeout=_POLL_S):
                if key.fileobj is listener:
                    conn, _ = listener.accept()
                    pid = _start_job(conn, listener, jobs)
                    if pid is None:
                        conn.close()
                        continue
                    jobs[pid] = conn
                    selector.register(conn, selectors.EVENT_READ, pid)
                else:  # the client hung up before its job ended: it was killed
                    selector.unregister(key.fileobj)
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(key.data, signal.SIGKILL)
            for pid, result in _reaped():
                conn = jobs.pop(pid, None)
                if conn is None:
                    continue
                with contextlib.suppress(KeyError, ValueError):
                    selector.unregister(conn)
                with contextlib.suppress(OSError):
                    conn.sendall(result)
                conn.close()
            if jobs:
                last_activity = time.monotonic()
            elif idle_timeout is not None and time.monotonic() - last_activity > idle_timeout:
                _say(f"idle for {idle_timeout} s: exiting")
                return
    finally:
        for pid in jobs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)


def _raise_exit(signum, frame):
    raise SystemExit(0)


def _say(message: str) -> None:
    print(f"ftrepro.warm[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def _reaped() -> Iterator[tuple[int, bytes]]:
    """(pid, _RESULT) of every child that ended: its exit status (a signal's death as 128 + its
    number) and the resources it used (with those of the processes it waited for)."""
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = os.waitstatus_to_exitcode(status)
        cpu_s = usage.ru_utime + usage.ru_stime
        yield (
            pid,
            _RESULT.pack(
                128 - code if code < 0 else code, cpu_s, usage.ru_maxrss, usage.ru_inblock, usage.ru_oublock
            ),
        )


def _read_request(conn: socket.socket) -> tuple[dict, list[int]]:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 16, 3)
    if len(data) < _HEADER.size:
        data += _recv_exactly(conn, _HEADER.size - len(data))
    (size,) = _HEADER.unpack(data[: _HEADER.size])
    body = data[_HEADER.size :]
    body += _recv_exactly(conn, size - len(body))
    return json.loads(body), fds


def _start_job(conn: socket.socket, listener: socket.socket, jobs: dict) -> int | None:
    try:
        request, fds = _read_request(conn)
    except (OSError, ValueError) as error:
        _say(f"bad request: {error!r}")
        return None
    if len(fds) != 3:
        for fd in fds:
            os.close(fd)
        _say("bad request: expected the client's stdin, stdout and stderr")
        return None
    pid = os.fork()
    if pid:
        for fd in fds:
            os.close(fd)
        return pid
    code = 1
    try:  # the child: become the job
        os.setpgid(0, 0)  # its own group, killed as one when the client goes away
        for sock in (listener, conn, *jobs.values()):
            sock.close()
        for sig in (signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        code = _run_script(request)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(code)


def _run_script(request: dict) -> int:
    """What `python script args...` would do, in this already warm process."""
    argv = request["argv"]
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = list(argv)
    sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
    tempfile.tempdir = None  # re-read TMPDIR
    random.seed()  # as a new interpreter would be seeded
    try:
        runpy.run_path(argv[0], run_name="__main__")
        code = 0
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            code = exit_.code or 0
        else:
            print(exit_.code, file=sys.stderr)
            code = 1
    except KeyboardInterrupt:
        code = 130
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    return code


# --------------------------------------------------------------------------- snakemake


def route_scripts(socket_path: str) -> None:
    """Send the Python `script:` jobs of this Snakemake process to the server at `socket_path`.

    Snakemake runs a script as `<its python> <script with preamble>`; this swaps the interpreter
    for `python -m ftrepro.warm run` where the job has no conda env, container or module."""
    from snakemake.script import PythonScript

    if getattr(PythonScript.execute_script, "_ftrepro_warm", False):
        return
    cold = PythonScript.execute_script

    def execute_script(self, fname, edit=False):
        if self.conda_env is not None or self.container_img is not None or self.env_modules is not None:
            return cold(self, fname, edit)
        usage = Path(f"{fname}.usage.json")
        try:
            self._execute_cmd(
                "{py_exec} -m ftrepro.warm run --usage {usage:q} {fname:q}",
                py_exec=sys.executable,
                usage=str(usage),
                fname=fname,
                is_python_script=True,
            )
        finally:
            if self.bench_record is not None and usage.exists():
                record_job_usage(self.bench_record, json.loads(usage.read_text()))
            usage.unlink(missing_ok=True)

    execute_script._ftrepro_warm = True
    PythonScript.execute_script = execute_script
    os.environ[SOCKET_ENV] = socket_path


def record_job_usage(bench_record, usage: dict) -> None:
    """Put a warm job's own usage (`run`'s usage file) into Snakemake's benchmark record of it,
    which measured only the client: CPU time and load added, the peak RSS the larger of the two,
    the job's I/O; the virtual, unique and proportional set sizes are not measured for the job."""
    bench_record.cpu_time = (bench_record.cpu_time or 0) + usage["cpu_s"]
    bench_record.cpu_usage = (bench_record.cpu_usage or 0) + 100 * usage["cpu_s"]  # percent x seconds
    bench_record.max_rss = max(bench_record.max_rss or 0, usage["max_rss_mb"])
    bench_record.io_in = (bench_record.io_in or 0) + usage["io_in_mb"]
    bench_record.io_out = (bench_record.io_out or 0) + usage["io_out_mb"]
    bench_record.max_vms = bench_record.max_uss = bench_record.max_pss = "NA"
    bench_record.data_collected = True


@contextlib.contextmanager
def server(preload: Iterable[str] = PRELOAD) -> Iterator[str]:
    """A warm server in a subprocess for the duration of the block; yields its socket path."""
    with tempfile.TemporaryDirectory(prefix="ftrepro-warm-") as tmp:
        path = os.path.join(tmp, "socket")
        process = subprocess.Popen(
            [sys.executable, "-m", "ftrepro.warm", "serve", path, "--preload", ",".join(preload)],
            stdin=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while not os.path.exists(path):  # bound before the imports: jobs may queue at once
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ftrepro.warm: the server did not start (exit {process.poll()})")
                time.sleep(0.02)
            yield path
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def snakemake(args: Sequence[str]) -> int:
    """Snakemake with `args`, its Python script jobs run by a warm server started for the run."""
    from snakemake.cli import main as snakemake_main

    preload = os.environ.get(PRELOAD_ENV)
    with server(PRELOAD if preload is None else tuple(n for n in preload.split(",") if n)) as path:
        route_scripts(path)
        try:
            snakemake_main(list(args))
        except SystemExit as exit_:
            return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    usage = (
        "usage: python -m ftrepro.warm "
        "{snakemake ARGS... | serve SOCKET [--preload A,B] | run [--usage FILE] SCRIPT ARGS...}"
    )
    if not argv:
        print(usage, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    if command == "snakemake":
        return snakemake(rest)
    if command == "run" and rest[:1] == ["--usage"] and len(rest) > 2:
        return run(rest[2:], usage_path=rest[1])
    if command == "run" and rest:
        return run(rest)
    if command == "serve" and rest:
        preload = PRELOAD
        if len(rest) == 3 and rest[1] == "--preload":
            preload = tuple(name for name in rest[2].split(",") if name)
        serve(rest[0], preload)
        return 0
    print(usage, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
