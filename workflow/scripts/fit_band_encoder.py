"""Single / parallel BERT on arena preferences (issue 6)."""

from ftrepro.workflow import not_built_yet

not_built_yet(snakemake, "band2025 encoder", "issue 6: band2025 preference classification")  # noqa: F821 (snakemake is injected)
