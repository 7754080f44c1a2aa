"""The `ftrepro` command: one entry point (run, plan, stats, report), each with --help; a mistake on
the command line is a line or two naming the closest valid choices, without a traceback unless
--debug; run targets are checked before Snakemake starts."""

from __future__ import annotations

import pytest

from ftrepro import cli, run
from ftrepro.cli import UsageError, main


def _fails(argv: list[str], capsys) -> tuple[int, str]:
    """The exit status and stderr of a command line that must fail."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "plan", "stats", "report"])
def test_every_command_has_its_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0 and out.startswith(f"usage: ftrepro {command}") and "--debug" in out


def test_a_misspelled_preset_is_one_line_naming_the_closest(workdir, monkeypatch, capsys):
    monkeypatch.chdir(workdir)
    code, err = _fails(["plan", "--preset", "papr"], capsys)
    assert code == 2 and "Traceback" not in err
    assert err.strip() == "ftrepro plan: error: unknown preset 'papr'; did you mean 'paper'?"
    code, err = _fails(["run", "--preset", "tinyy"], capsys)
    assert code == 2 and err.strip().endswith("unknown preset 'tinyy'; did you mean 'tiny'?")


def test_outside_the_repository_it_says_where_to_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, err = _fails(["run"], capsys)
    assert code == 2 and "no config/config.yaml here: run ftrepro in the repository's directory" in err


def test_debug_shows_the_traceback(workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    with pytest.raises(UsageError, match="unknown preset 'papr'"):
        main(["plan", "--preset", "papr", "--debug"])


@pytest.fixture
def no_snakemake(workdir, monkeypatch):
    """The working directory of a run whose Snakemake never starts; the calls it would have made."""
    monkeypatch.chdir(workdir)
    calls = []
    monkeypatch.setattr(run, "run", lambda *args, **kwargs: calls.append((args, kwargs)) or 0)
    return calls


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "results/tiny/zhao2025/massive-intent.robrta-base.ft/metrics.json",
            "unknown run of zhao2025 'massive-intent.robrta-base.ft'; did you mean "
            "'massive-intent.roberta-base.ft'",
        ),
        (
            "results/tiny/gupta2023/mtl.tk-instruct-20O/predictions.jsonl",
            "unknown run of gupta2023 'mtl.tk-instruct-20O'; did you mean 'mtl.tk-instruct-200'",
        ),
        (
            "results/tiny/zhao2052/massive-intent.roberta-base.ft/metrics.json",
            "unknown paper 'zhao2052'; did you mean 'zhao2025'",
        ),
        ("band2052", "unknown target 'band2052'; did you mean 'band2025'"),
    ],
)
def test_a_misspelled_run_or_target_names_the_closest_before_snakemake_starts(
    no_snakemake, capsys, target, message
):
    code, err = _fails(["run", "--target", target], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert no_snakemake == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("results/mini/report.html", "results/mini/report.html is a file of the mini preset"),
        ("results/zhao2025/tables/table3.md", "the tiny preset's files are under results/tiny/"),
    ],
)
def test_a_path_outside_the_presets_directory_is_refused(no_snakemake, capsys, target, message):
    """issue 29.3: a preset's run makes only its own files (results/<preset>/...)."""
    code, err = _fails(["run", "--target", target], capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert no_snakemake == []


def test_a_target_after_the_double_dash_is_refused_not_swallowed_by_config(no_snakemake, capsys):
    code, err = _fails(["run", "--", "zhao2025"], capsys)
    assert code == 2 and "'zhao2025' is not a --config KEY=VALUE; give targets with --target" in err
    code, err = _fails(["run", "--", "preset=mini"], capsys)
    assert code == 2 and "give the preset with --preset" in err
    assert no_snakemake == []


def test_valid_targets_and_config_entries_reach_the_run(no_snakemake):
    targets = [
        "results/mini/zhao2025/massive.tfidf-svm.baseline/metrics.json",  # a run outside the matrix
        "results/mini/band2025/tables/log_loss.md",
        "results/mini/report.html",
        "zhao2025",
    ]
    argv = ["run", "--preset", "mini", "--cores", "2", *(f"--target={t}" for t in targets)]
    assert main([*argv, "--", "partial=true", "--dry-run"]) == 0
    (args, kwargs), *_ = no_snakemake
    assert args == ("mini", "2", targets, ["partial=true", "--dry-run"]) and kwargs["warm"] is True


def test_a_bad_config_entry_is_the_config_error_in_one_line(no_snakemake, capsys):
    code, err = _fails(["run", "--", "keep_checkpoints=maybe"], capsys)
    assert code == 1 and "keep_checkpoints" in err and "Traceback" not in err
    assert no_snakemake == []


def test_report_prints_the_path_or_says_how_to_make_it(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, err = _fails(["report"], capsys)
    assert code == 2 and "no report at results/tiny/report.html yet" in err and "ftrepro run" in err
    (tmp_path / "results/tiny").mkdir(parents=True)
    (tmp_path / "results/tiny/report.html").write_text("<html></html>")
    assert main(["report"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "results/tiny/report.html")
    code, err = _fails(["report", "--preset", "mini"], capsys)  # the demo's is not mini's
    assert code == 2 and "no report at results/mini/report.html yet" in err


def test_unknown_lists_a_few_valid_choices_when_none_is_close():
    message = str(cli.unknown("run of x", "zzz", [f"run{i}" for i in range(9)]))
    assert message == "unknown run of x 'zzz'; valid: run0, run1, run2, run3, run4 ... (9 in all)"
