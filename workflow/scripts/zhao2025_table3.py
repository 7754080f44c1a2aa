"""Table 3 of zhao2025: the paper's number, ours and the difference per cell."""

from ftrepro.papers import with_shared
from ftrepro.papers.zhao2025.report import (
    below_baselines,
    build_table3,
    floor_note,
    preset_note,
    read_targets,
    write_table3,
)
from ftrepro.report import Verdicts, data_note, run_metrics
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    # a run's seeds are one cell: their mean, spread and count
    metrics = run_metrics([*sm.input.metrics, *sm.input.baselines])
    # runs that share a trained run's model in this preset repeat its numbers, saying so
    metrics = with_shared(metrics, sm.params.shared)
    verdicts = Verdicts(**sm.params.verdicts)
    # the matrix's runs and tasks: what the paper has not gets rows and columns of its own
    table = build_table3(
        read_targets(sm.input.targets),
        metrics,
        sm.params.runs,
        sm.params.tasks,
        baselines=list(sm.params.baselines),
        stand_ins=sm.params.stand_ins,
        verdicts=verdicts,
    )
    # the sanity floor: fine-tuned encoders under a baseline of their column are a recipe's bug
    below = below_baselines(table, sm.params.encoders)
    for _, cell in below.iterrows():
        log.warning(
            "%s below the baselines: %s %.1f < %.1f", cell["run"], cell["column"], cell["ours"], cell["floor"]
        )
    note = data_note(sm.params.synthetic) + preset_note(**sm.params.note, baselines=sm.params.baselines)
    write_table3(
        table,
        sm.output.csv,
        sm.output.md,
        note + floor_note(below),
        verdicts.basis,
        deviations=sm.params.deviations,
    )
    log.info("%d cells, %d run", len(table), int((table["status"] == "ok").sum()))
