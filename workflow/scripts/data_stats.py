"""results/<preset>/data/stats.md: rows, label distributions and token lengths of every derived dataset."""

from pathlib import Path

from ftrepro.data.stats import stats_report
from ftrepro.workflow import job

with job(snakemake):  # noqa: F821 (snakemake is injected)
    p = snakemake.params  # noqa: F821
    skipped = stats_report(
        Path(snakemake.input.derived[0]).parents[1],  # noqa: F821 (resources/<preset>/derived/<dataset>/labels.json)
        Path(snakemake.output[0]),  # noqa: F821
        tokenizers=p.tokenizers,
        sample=p.sample,
        seed=p.seed,
        tokenizer_names={d: f"{model} ({p.tokenizers[d]})" for d, model in p.tokenizer_names.items()},
    )
    if skipped:
        raise RuntimeError(f"derived datasets missing: {skipped}")
