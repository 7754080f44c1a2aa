"""Inference with a causal LM on rendered prompts: free greedy generation, and constrained
decoding that picks the most likely of a list of candidate answers. The generation loop
(`greedy_outputs`) is the seq2seq models' too.

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
from ftrepro.models.encoding import encode_answer, encode_prompt

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
    shows at once), padded on the tokenizer's side (a decoder-only model needs the left).
    """
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    order = sorted(range(len(inputs)), key=lambda i: -len(inputs[i]))
    outputs = [""] * len(inputs)
    for start in tqdm(range(0, len(order), batch_size), desc="generate", unit="batch"):
        rows = order[start : start + batch_size]
        batch = tokenizer.pad({"input_ids": [inputs[i] for i in rows]}, return_tensors="pt").to(model.device)
        with torch.inference_mode():
            tokens = model.generate(
                **batch,
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
    chosen: list[str | None] = []
    for prompt, options in tqdm(list(zip(prompts, candidates, strict=True)), desc="choose", unit="prompt"):
        prompt_ids = encode_prompt(tokenizer, prompt)
        answers = [
            encode_answer(tokenizer, option)
            if whole_answers
            else tokenizer(option, add_special_tokens=False)["input_ids"]
            for option in options
        ]
        if len(prompt_ids) + max(map(len, answers)) > context:
            chosen.append(None)
            continue
        scores = candidate_log_likelihoods(model, prompt_ids, answers, batch_size)
        chosen.append(options[max(range(len(options)), key=scores.__getitem__)])
    return chosen


def candidate_log_likelihoods(
    model, prompt_ids: list[int], answers: list[list[int]], batch_size: int
) -> list[float]:
    """log P(answer | prompt) for each answer. The prompt goes through the model once; its KV
    cache is copied for each batch of answers, which are right-padded (padding comes after the
    tokens that are scored, so it cannot change them)."""
    device = model.device
    with torch.inference_mode():
        prompt_out = model(input_ids=torch.tensor([prompt_ids], device=device), use_cache=True)
        first = torch.log_softmax(
            prompt_out.logits[0, -1].float(), dim=-1
        )  # predicts each answer's 1st token
        scores = []
        for start in range(0, len(answers), batch_size):
            chunk = answers[start : start + batch_size]
            width = max(map(len, chunk))
            ids = torch.tensor([a + [a[-1]] * (width - len(a)) for a in chunk], device=device)
            real = torch.tensor([[j < len(a) for j in range(width)] for a in chunk], device=device)
            cache = copy.deepcopy(prompt_out.past_key_values)
            cache.batch_repeat_interleave(len(chunk))
            mask = torch.cat(
                [torch.ones(len(chunk), len(prompt_ids), dtype=torch.long, device=device), real.long()], dim=1
            )
            logits = model(input_ids=ids, attention_mask=mask, past_key_values=cache).logits.float()
            follow = torch.log_softmax(logits[:, :-1], dim=-1).gather(2, ids[:, 1:, None])[..., 0]
            token_scores = torch.cat([first[ids[:, 0]][:, None], follow], dim=1)
            scores += (token_scores * real).sum(dim=1).tolist()
    return scores
