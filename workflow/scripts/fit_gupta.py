"""T5 / Tk-Instruct training on SuperNI (issue 5)."""

from ftrepro.workflow import not_built_yet

not_built_yet(snakemake, "gupta2023 seq2seq", "issue 5: gupta2023 instruction tuning")  # noqa: F821 (snakemake is injected)
