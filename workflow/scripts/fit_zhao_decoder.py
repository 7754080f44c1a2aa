"""Prompted full fine-tuning of a Llama model (issue 4)."""

from ftrepro.workflow import not_built_yet

not_built_yet(snakemake, "zhao2025 decoder", "issue 4: zhao2025 decoder LLMs")  # noqa: F821 (snakemake is injected)
