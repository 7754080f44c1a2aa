"""The toy table: each run's intent accuracy beside the target's."""

from pathlib import Path

import pandas as pd

from ftrepro.io import read_json
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    ours = {Path(p).parent.name: read_json(p)["intent_accuracy"] for p in sm.input.metrics}
    table = pd.read_csv(sm.input.targets).assign(ours=lambda t: t["run"].map(ours))
    table.to_csv(sm.output.csv, index=False)
    Path(sm.output.md).write_text(table.to_markdown(index=False) + "\n")
    log.info("%d runs", len(table))
