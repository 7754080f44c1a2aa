"""SuperNI splits, sample subsets and encodings (issue 3)."""

from ftrepro.workflow import not_built_yet

not_built_yet(snakemake, "SuperNI derivation", "issue 3: data stage")  # noqa: F821 (snakemake is injected)
