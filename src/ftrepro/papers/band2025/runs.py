"""band2025 runs: the name grammar (built and parsed here only) and the matrix of the paper.

    <encoder>.<single|parallel>.<plain|llm-augmented>     distilbert.parallel.llm-augmented
    <llm>.lora                                           llama3.1-8b.lora

Model names may hold dots ("llama3.1-8b"); encoder names do not. Cheap and torch-free.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ftrepro.config import Config

LORA = "lora"


@dataclass(frozen=True)
class BandRun:
    model: str
    architecture: str = LORA  # single | parallel for encoders
    variant: str | None = None  # plain | llm-augmented for encoders

    @property
    def name(self) -> str:
        if self.architecture == LORA:
            return f"{self.model}.{LORA}"
        return f"{self.model}.{self.architecture}.{self.variant}"

    @property
    def is_lora(self) -> bool:
        return self.architecture == LORA

    @classmethod
    def parse(cls, name: str) -> BandRun:
        if name.endswith(f".{LORA}"):
            return cls(name.removesuffix(f".{LORA}"))
        parts = name.split(".")
        if len(parts) != 3:
            raise ValueError(f"not a band2025 run name: {name!r}")
        return cls(*parts)


def encoder_runs(config: Config) -> list[str]:
    b = config.band2025
    return [
        BandRun(enc, arch, variant).name
        for enc in b.encoders
        for arch in b.architectures
        for variant in b.variants
    ]


def llm_runs(config: Config) -> list[str]:
    return [BandRun(config.band2025.llm).name]


def model_names(config: Config) -> list[str]:
    """The paper's models (config.models names): the classifiers and the property annotator."""
    b = config.band2025
    return [*b.encoders, b.llm, b.annotator]


def runs_by_family(config: Config) -> dict[str, list[str]]:
    return {"encoder": encoder_runs(config), "llm": llm_runs(config)}


def shared_runs(config: Config) -> dict[str, str]:
    """{run: the run whose model it shares}: encoder names that resolve to the same weights in the
    preset are trained once, by the first of them (ftrepro.papers.shared_runs)."""
    first: dict[str, str] = {}
    owner = {e: first.setdefault(config.models[e].identity, e) for e in config.band2025.encoders}
    shared = {}
    for run in encoder_runs(config):
        parsed = BandRun.parse(run)
        if owner[parsed.model] != parsed.model:
            shared[run] = replace(parsed, model=owner[parsed.model]).name
    return shared
