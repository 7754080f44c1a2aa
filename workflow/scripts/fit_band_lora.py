"""Llama 3.1 8B LoRA classifier (issue 6)."""

from ftrepro.workflow import not_built_yet

not_built_yet(snakemake, "band2025 LoRA", "issue 6: band2025 preference classification")  # noqa: F821 (snakemake is injected)
