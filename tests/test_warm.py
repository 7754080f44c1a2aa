"""ftrepro.warm: scripts run in forks of a warm interpreter, as a fresh interpreter would run them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO

from ftrepro import warm

SCRIPT = """
import os, sys
print("out", os.getcwd(), sys.argv[1:], os.environ.get("WARM_TEST"), "wave" in sys.modules)
print("err", file=sys.stderr)
sys.exit(int(os.environ.get("WARM_CODE", "0")))
"""


def _env(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO / "src"), **extra}


@pytest.fixture
def warm_server(tmp_path):
    """A server that preloads `wave` (a module nothing else imports): a job that sees it ran warm."""
    path = str(tmp_path / "warm.sock")
    process = subprocess.Popen(
        [sys.executable, "-m", "ftrepro.warm", "serve", path, "--preload", "wave"], env=_env()
    )
    deadline = time.monotonic() + 30
    while not os.path.exists(path):
        assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    yield path
    process.terminate()
    process.wait(timeout=30)
    assert not os.path.exists(path), "the server leaves no socket behind"


def _client(script: Path, socket_path: str, cwd: Path, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "ftrepro.warm", "run", str(script), "a", "b"],
        cwd=cwd,
        env=_env(FTREPRO_WARM_SOCKET=socket_path, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_job_runs_warm_with_its_own_cwd_env_streams_and_exit_status(warm_server, tmp_path):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    (tmp_path / "cwd").mkdir()
    client = _client(script, warm_server, tmp_path / "cwd", WARM_TEST="x", WARM_CODE="3")
    out, err = client.communicate(timeout=60)
    assert client.returncode == 3
    assert out.split() == ["out", str(tmp_path / "cwd"), "['a',", "'b']", "x", "True"]
    assert err.strip() == "err"


def test_a_failing_job_shows_its_traceback_and_fails(warm_server, tmp_path):
    script = tmp_path / "job.py"
    script.write_text("raise ValueError('broken job')\n")
    client = _client(script, warm_server, tmp_path)
    _, err = client.communicate(timeout=60)
    assert client.returncode == 1 and "ValueError: broken job" in err


def test_killing_the_client_kills_the_job(warm_server, tmp_path):
    script = tmp_path / "job.py"
    script.write_text("import os, time\nopen('pid', 'w').write(str(os.getpid()))\ntime.sleep(120)\n")
    client = _client(script, warm_server, tmp_path)
    deadline = time.monotonic() + 30
    while not (tmp_path / "pid").exists() or not (tmp_path / "pid").read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    pid = int((tmp_path / "pid").read_text())
    client.send_signal(signal.SIGTERM)
    client.wait(timeout=30)
    deadline = time.monotonic() + 10
    while Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z":
        assert time.monotonic() < deadline, "the job outlived its client"
        time.sleep(0.05)


def test_without_a_server_the_script_runs_in_a_new_interpreter(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(SCRIPT)
    client = _client(script, str(tmp_path / "nothing.sock"), tmp_path, WARM_CODE="4")
    out, err = client.communicate(timeout=60)
    assert client.returncode == 4
    assert out.split()[-1] == "False" and "no server" in err


def _warm_snakemake(workdir: Path, target: str) -> None:
    """`target` of the Snakefile in `workdir`, through a warm server that preloads `wave`."""
    result = subprocess.run(
        [sys.executable, "-m", "ftrepro.warm", "snakemake", "--cores", "1", target],
        cwd=workdir,
        env=_env(**{warm.PRELOAD_ENV: "wave"}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_snakemake_script_jobs_run_in_the_warm_interpreter(tmp_path):
    (tmp_path / "Snakefile").write_text(
        'rule a:\n    output: "a.txt"\n    log: "a.log"\n    script: "a.py"\n'
    )
    (tmp_path / "a.py").write_text(
        'import sys\nopen(snakemake.output[0], "w").write(str("wave" in sys.modules))\n'
    )
    _warm_snakemake(tmp_path, "a.txt")
    assert (tmp_path / "a.txt").read_text() == "True"


def test_a_warm_job_s_benchmark_file_reports_its_own_cpu_time_and_memory(tmp_path):
    """Snakemake measures the client; the job's CPU seconds and peak RSS come from the server."""
    (tmp_path / "Snakefile").write_text(
        'rule a:\n    output: "a.txt"\n    log: "a.log"\n    benchmark: "a.tsv"\n    script: "a.py"\n'
    )
    (tmp_path / "a.py").write_text(
        "import sys, time\n"
        "block = bytearray(300 * 2**20)  # 300 MiB, written: resident\n"
        "end = time.process_time() + 1.5\n"
        "while time.process_time() < end:\n"
        "    pass\n"
        'open(snakemake.output[0], "w").write(str("wave" in sys.modules))\n'
    )
    _warm_snakemake(tmp_path, "a.txt")
    assert (tmp_path / "a.txt").read_text() == "True"  # it ran warm
    header, row = (line.split("\t") for line in (tmp_path / "a.tsv").read_text().splitlines())
    bench = dict(zip(header, row))
    assert float(bench["cpu_time"]) >= 1.5 and float(bench["max_rss"]) >= 300
    assert bench["max_vms"] == "NA" and float(bench["mean_load"]) > 0
    assert not list(tmp_path.glob(".snakemake/scripts/*.usage.json"))  # the usage file is gone
