"""Arena labels and the 90/10 split (issue 3)."""

from ftrepro.workflow import not_built_yet

not_built_yet(snakemake, "arena derivation", "issue 3: data stage")  # noqa: F821 (snakemake is injected)
