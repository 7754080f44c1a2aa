"""Inference with a causal LM on rendered prompts: free greedy generation, and constrained
decoding that picks the most likely of a list of candidate answers. The generation loop
(`greedy_outputs`) is the seq2seq models' too.

The prompts of a run share a long head (instructions, label lists, five-shot examples: about 450
of a MASSIVE intent prompt's 470 tokens): a decoder-only model reads it once (`shared_prefix`),
and every batch starts from a copy of its KV cache. Candidate answers are scored as a token tree
in one forward per batch of prompts (`candidate_log_likelihoods`), each distinct answer beginning
once.

Prompts are tokenised as in training (ftrepro.models.encoding.encode_prompt). A prompt that leaves
no room in the model's context (max_position_embeddings) gets None instead of an answer: the
caller counts it as too long rather than cutting it.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import torch
from tqdm import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftrepro.infer.loading import load_model
from ftrepro.models.encoding import encode_answer, encode_prompt, shared_prefix

log = logging.getLogger(__name__)


def load_for_inference(model_dir: str | Path):
    """Tokenizer and causal LM, loaded as every model for inference is (ftrepro.infer.loading)."""
    return AutoTokenizer.from_pretrained(model_dir), load_model(model_dir, AutoModelForCausalLM)


def generate(
    model_dir: str | Path, prompts: list[str], max_new_tokens: int, batch_size: int
) -> list[str | None]:
    """Greedy continuation of every prompt (see `greedy_outputs`), in input order; None for a
    prompt longer than the context minus `max_new_tokens`."""
    tokenizer, model = load_for_inference(model_dir)
    tokenizer.padding_side = "left"  # every row's continuation starts at the same column
    room = model.config.max_position_embeddings - max_new_tokens
    ids = [encode_prompt(tokenizer, prompt) for prompt in prompts]
    fitting = [i for i in range(len(ids)) if len(ids[i]) <= room]
    log.info(
        "generating for %d prompts (%d longer than %d tokens)", len(fitting), len(ids) - len(fitting), room
    )
    outputs: list[str | None] = [None] * len(prompts)
    texts = greedy_outputs(model, tokenizer, [ids[i] for i in fitting], max_new_tokens, batch_size)
    for i, text in zip(fitting, texts, strict=True):
        outputs[i] = text
    return outputs


def greedy_outputs(
    model, tokenizer, inputs: list[list[int]], max_new_tokens: int, batch_size: int
) -> list[str]:
    """The one generation loop: greedy decoding of every input (token ids), in input order; the
    new tokens of a decoder-only model, the output of an encoder-decoder, decoded without special
    tokens and stripped.

    Batches hold inputs of similar length, longest first (less padding; an out-of-memory error
    shows at once), padded on the tokenizer's side (a decoder-only model needs the left). A
    decoder-only model reads the inputs' shared prefix once; each batch pads only what follows it
    and generates from a copy of the prefix's KV cache (padding between prefix and the rest is
    masked, and positions follow the mask).
    """
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    prefix = [] if model.config.is_encoder_decoder else shared_prefix(inputs)
    cache = prefix_cache(model, prefix)
    order = sorted(range(len(inputs)), key=lambda i: -len(inputs[i]))
    outputs = [""] * len(inputs)
    for start in tqdm(range(0, len(order), batch_size), desc="generate", unit="batch"):
        rows = order[start : start + batch_size]
        batch = tokenizer.pad(
            {"input_ids": [inputs[i][len(prefix) :] for i in rows]}, return_tensors="pt"
        ).to(model.device)
        extra = {}
        if prefix:
            batch = _after_prefix(batch, prefix, model.device)
            extra["past_key_values"] = _rows_of(cache, len(rows))
        with torch.inference_mode():
            tokens = model.generate(
                **batch,
                **extra,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                num_beams=1,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=pad_id,
            )
        if not model.config.is_encoder_decoder:
            tokens = tokens[:, batch["input_ids"].shape[1] :]
        for i, text in zip(rows, tokenizer.batch_decode(tokens, skip_special_tokens=True), strict=True):
            outputs[i] = text.strip()
    return outputs


def prefix_cache(model, prefix: list[int]):
    """The KV cache of `prefix` (one row); None for an empty prefix."""
    if not prefix:
        return None
    with torch.inference_mode():
        ids = torch.tensor([prefix], device=model.device)
        return model(input_ids=ids, use_cache=True, logits_to_keep=1).past_key_values


def _rows_of(cache, rows: int):
    """A copy of a one-row cache for `rows` rows (generation and scoring extend it in place)."""
    copied = copy.deepcopy(cache)
    copied.batch_repeat_interleave(rows)
    return copied


def _after_prefix(batch: dict, prefix: list[int], device) -> dict:
    """A batch of padded continuations as whole inputs: the prefix's ids and mask before them."""
    rows = batch["input_ids"].shape[0]
    head = torch.tensor([prefix], device=device).expand(rows, -1)
    return {
        "input_ids": torch.cat([head, batch["input_ids"]], dim=1),
        "attention_mask": torch.cat([torch.ones_like(head), batch["attention_mask"]], dim=1),
    }


def choose(
    model_dir: str | Path,
    prompts: list[str],
    candidates: list[list[str]],
    batch_size: int,
    *,
    whole_answers: bool = True,
) -> list[str | None]:
    """For each prompt the candidate continuation with the highest log-likelihood: the sum of
    the log-probabilities of its tokens. With `whole_answers` the EOS after a candidate is scored
    too, as the model was trained to end an answer (else "rec" would beat "rec.autos" by being a
    prefix of it); without, candidates are answer beginnings whose last token ends the label (a
    closing quote). None for a prompt that leaves no room for its longest candidate."""
    tokenizer, model = load_for_inference(model_dir)
    context = model.config.max_position_embeddings
    prompt_ids = [encode_prompt(tokenizer, prompt) for prompt in prompts]
    answers = [
        [
            encode_answer(tokenizer, option)
            if whole_answers
            else tokenizer(option, add_special_tokens=False)["input_ids"]
            for option in options
        ]
        for options in candidates
    ]
    fitting = [i for i in range(len(prompts)) if len(prompt_ids[i]) + max(map(len, answers[i])) <= context]
    scores = candidate_log_likelihoods(
        model, [prompt_ids[i] for i in fitting], [answers[i] for i in fitting], batch_size
    )
    chosen: list[str | None] = [None] * len(prompts)
    for i, row in zip(fitting, scores, strict=True):
        chosen[i] = candidates[i][max(range(len(row)), key=row.__getitem__)]
    return chosen


def candidate_log_likelihoods(
    model, prompts: list[list[int]], answers: list[list[list[int]]], batch_size: int
) -> list[list[float]]:
    """log P(answer | prompt) for each prompt's answers (token ids).

    The prompts' shared prefix is read once. Per batch of `batch_size` prompts, one forward reads
    the rest of each prompt (left-padded after the prefix): its last logits give every answer's
    first token. A second forward reads each prompt's answer tree (`AnswerTree`): every distinct
    answer beginning once, attending to the prompt and to its own beginning only, at the
    positions it would have after the prompt, so that each answer scores as in a forward of
    prompt + answer alone."""
    if not prompts:
        return []
    prefix = shared_prefix(prompts)
    cache = prefix_cache(model, prefix)
    scores: list[list[float]] = []
    for start in tqdm(range(0, len(prompts), batch_size), desc="choose", unit="batch"):
        rows = range(start, min(start + batch_size, len(prompts)))
        trees = [AnswerTree(answers[i]) for i in rows]
        scores += _score_batch(model, [prompts[i][len(prefix) :] for i in rows], trees, prefix, cache)
    return scores


def _score_batch(model, rests: list[list[int]], trees: list[AnswerTree], prefix: list[int], cache):
    device, rows = model.device, len(rests)
    width = max(map(len, rests))
    rest_ids = torch.tensor([[0] * (width - len(r)) + r for r in rests], device=device)
    rest_mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rests], device=device)
    context_mask = torch.cat([torch.ones(rows, len(prefix), dtype=torch.long, device=device), rest_mask], 1)
    positions = (context_mask.cumsum(1) - 1).clamp(min=0)
    with torch.inference_mode():
        out = model(
            input_ids=rest_ids,
            attention_mask=context_mask,
            position_ids=positions[:, len(prefix) :],
            past_key_values=_rows_of(cache, rows) if prefix else None,
            use_cache=True,
            logits_to_keep=1,  # the last position's: the first token of every answer
        )
        first = torch.log_softmax(out.logits[:, -1].float(), dim=-1)
        nodes = max(len(tree.tokens) for tree in trees)
        if nodes == 0:  # single-token answers: the first logits score them all
            return [tree.scores(first[b], None) for b, tree in enumerate(trees)]
        tree_ids = torch.tensor([tree.padded_tokens(nodes) for tree in trees], device=device)
        tree_mask = torch.stack([tree.padded_mask(nodes) for tree in trees]).to(device)
        mask = torch.cat([context_mask[:, None, :].bool().expand(-1, nodes, -1), tree_mask], dim=2)
        depth = torch.tensor([tree.padded_depths(nodes) for tree in trees], device=device)
        logits = model(
            input_ids=tree_ids,
            attention_mask=_additive(mask[:, None], model.dtype),
            position_ids=context_mask.sum(1, keepdim=True) + depth,
            past_key_values=out.past_key_values,
        ).logits
        return [
            tree.scores(first[b], torch.log_softmax(logits[b].float(), dim=-1))
            for b, tree in enumerate(trees)
        ]


def _additive(allowed: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A boolean attention mask as the additive one every attention implementation takes as is
    (eager attention adds it to the scores; a boolean would be added as 0 and 1)."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(
        ~allowed, torch.finfo(dtype).min
    )


class AnswerTree:
    """The answers of one prompt as a token tree: a node per distinct answer beginning that
    predicts a next token (every beginning but whole answers), in first-seen order. Node i holds
    the last token of its beginning; `mask[i, j]` says whether node j is i or one of its ancestors
    (what i attends to); `depth[i]` is its token's index in the answer."""

    def __init__(self, answers: list[list[int]]):
        self.answers = answers
        index: dict[tuple[int, ...], int] = {}
        for answer in answers:
            for end in range(1, len(answer)):
                index.setdefault(tuple(answer[:end]), len(index))
        self.index = index
        self.tokens = [beginning[-1] for beginning in index]
        self.depths = [len(beginning) - 1 for beginning in index]
        self.mask = torch.zeros(len(index), len(index), dtype=torch.bool)
        for beginning, i in index.items():
            for end in range(1, len(beginning) + 1):
                self.mask[i, index[beginning[:end]]] = True

    def padded_tokens(self, nodes: int) -> list[int]:
        return self.tokens + [0] * (nodes - len(self.tokens))

    def padded_depths(self, nodes: int) -> list[int]:
        return self.depths + [0] * (nodes - len(self.depths))

    def padded_mask(self, nodes: int) -> torch.Tensor:
        """`mask` in a nodes x nodes block; a padding node attends to itself (a row with nothing
        to attend to would be NaN) and nothing attends to it."""
        padded = torch.eye(nodes, dtype=torch.bool)
        padded[: len(self.tokens), : len(self.tokens)] = self.mask
        return padded

    def scores(self, first: torch.Tensor, log_probs: torch.Tensor | None) -> list[float]:
        """Each answer's log-likelihood: `first` scores its first token, the row of `log_probs`
        at the node of its beginning each later one."""
        return [
            first[answer[0]].item()
            + sum(log_probs[self.index[tuple(answer[:j])], answer[j]].item() for j in range(1, len(answer)))
            for answer in self.answers
        ]
