"""Tables 5.1/5.2 and Figures 5.1-5.4 of gupta2023 (issue 5)."""

from ftrepro.workflow import not_built_yet

not_built_yet(snakemake, "gupta2023 report", "issue 5: gupta2023 instruction tuning")  # noqa: F821 (snakemake is injected)
