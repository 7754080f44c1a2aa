"""The prompt lengths of the case study (§5.2.5): def-pos tokens of every derived test task's test
instances, by the Tk-Instruct model's tokenizer, against the recipe's source limit."""

from ftrepro.data.stats import load_tokenizer, superni_prompt_tokens
from ftrepro.io import write_json
from ftrepro.workflow import job

with job(snakemake) as log:  # noqa: F821 (snakemake is injected)
    sm = snakemake  # noqa: F821
    tokens = superni_prompt_tokens(
        sm.input.data, load_tokenizer(sm.input.tokenizer), sm.params.max_source_length
    )
    write_json(sm.output.tokens, tokens)
    log.info("%s", tokens)
