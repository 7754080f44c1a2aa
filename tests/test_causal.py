"""Causal LM family: answer-only labels, prompt truncation, length-grouped batches with little padding,
training with resume, greedy generation and constrained decoding, the multi-GPU launch."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import RecordSteps, StopAfterFirstSave
from transformers import AutoModelForCausalLM, AutoTokenizer

from ftrepro.infer.causal import candidate_log_likelihoods, choose, generate
from ftrepro.io import DataError, read_jsonl
from ftrepro.models.base import prepare_base_model
from ftrepro.models.encoding import cut_middle, encode_answer, encode_example, encode_prompt
from ftrepro.train.causal import ChunkedCausalLoss, LengthBucketSampler, causal_trainer, train_causal_lm
from ftrepro.train.launch import run_distributed, torchrun_command

DEEPSPEED = Path(__file__).resolve().parents[1] / "config" / "deepspeed"
HPARAMS = {
    "learning_rate": 3e-3,
    "lr_scheduler_type": "constant",
    "warmup_steps": 0,
    "max_steps": 40,
    "per_device_train_batch_size": 4,
    "effective_batch_size": 4,
    "max_length": 64,
    "bf16": True,
    "activation_checkpointing": False,
    "save_steps": 100,
    "seed": 0,
}
# four prompts of one length (so that length-grouped batches mix them), each with its own answer
EXAMPLES = [
    {"prompt": f"[INST] which topic : the {word} today label : [/INST]", "answer": answer}
    for word, answer in (
        ("pitcher", "sport"),
        ("orbit", "space"),
        ("doctor", "medicine"),
        ("encryption", "crypt"),
    )
]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("causal") / "base"
    prepare_base_model({"random": {"architecture": "llama"}}, "decoder", path)
    return path


@pytest.fixture(scope="module")
def tokenizer(base):
    return AutoTokenizer.from_pretrained(base)


@pytest.fixture(scope="module")
def trained(base, tmp_path_factory) -> Path:
    """The tiny llama trained to answer EXAMPLES."""
    out = tmp_path_factory.mktemp("trained")
    summary = train_causal_lm(base, EXAMPLES * 40, {**HPARAMS, "max_steps": 80}, out / "model", out / "ckpt")
    assert summary["global_step"] == 80 and summary["resumed_from"] is None
    assert not (out / "ckpt").exists()
    return out / "model"


# --- examples -> token ids ----------------------------------------------------------------------


def test_labels_are_the_answer_and_eos_only(tokenizer):
    example = EXAMPLES[0]
    prompt = tokenizer(example["prompt"])["input_ids"]
    answer = tokenizer("sport", add_special_tokens=False)["input_ids"]
    encoded = encode_example(tokenizer, example, 64)
    assert prompt[0] == tokenizer.bos_token_id and len(answer) >= 1
    assert encoded["input_ids"] == prompt + answer + [tokenizer.eos_token_id]
    assert encoded["labels"] == [-100] * len(prompt) + answer + [tokenizer.eos_token_id]


def test_a_prompt_rendered_with_its_bos_gets_no_second_one(tokenizer):
    plain = encode_prompt(tokenizer, "hello world")
    rendered = encode_prompt(tokenizer, "<s>hello world")
    assert rendered == plain and plain.count(tokenizer.bos_token_id) == 1


def test_a_too_long_example_keeps_its_answer_and_the_ends_of_its_prompt(tokenizer):
    example = {"prompt": "head words " + "filler " * 40 + "tail words", "answer": "space"}
    prompt, answer = encode_prompt(tokenizer, example["prompt"]), encode_answer(tokenizer, "space")
    encoded = encode_example(tokenizer, example, 20)
    budget = 20 - len(answer)
    assert len(encoded["input_ids"]) == 20
    assert (
        encoded["input_ids"]
        == prompt[: budget // 2] + prompt[len(prompt) - (budget - budget // 2) :] + answer
    )
    assert encoded["labels"][-len(answer) :] == answer and set(encoded["labels"][: -len(answer)]) == {-100}
    assert cut_middle([1, 2, 3, 4, 5, 6, 7], 4) == [1, 2, 6, 7]
    assert cut_middle([1, 2, 3], 3) == [1, 2, 3]


def test_an_answer_longer_than_max_length_is_named(tokenizer):
    with pytest.raises(DataError, match="'x7'.*answer alone"):
        encode_example(tokenizer, {"id": "x7", "prompt": "p", "answer": "space " * 30}, 10)


# --- batching -----------------------------------------------------------------------------------


def padding_share(batches) -> float:
    masks = [batch["attention_mask"] for batch in batches]
    return sum((m == 0).sum().item() for m in masks) / sum(m.numel() for m in masks)


def test_length_grouped_batches_keep_padding_under_a_tenth_of_the_tokens(base, tmp_path):
    """Batches of 8 prompts of 5 to 400 words (skewed like 20NG posts): the trainer's batches
    are under 10% padding, random batches of the same examples several times more; padding is
    masked out of attention and loss."""
    rng = random.Random(0)
    examples = [
        {"prompt": "orbit " * min(400, 5 + int(rng.lognormvariate(3.5, 0.9))), "answer": "space"}
        for _ in range(400)
    ]
    hparams = {**HPARAMS, "per_device_train_batch_size": 8, "effective_batch_size": 8, "max_length": 512}
    trainer = causal_trainer(base, examples, hparams, tmp_path / "ckpt")
    batches = list(trainer.get_train_dataloader())
    assert sum(len(b["input_ids"]) for b in batches) == 400
    for batch in batches:
        assert (batch["labels"][batch["attention_mask"] == 0] == -100).all()
    features = list(trainer.train_dataset)
    rng.shuffle(features)
    naive = [trainer.data_collator(features[i : i + 8]) for i in range(0, 400, 8)]
    assert padding_share(batches) < 0.10 < 3 * padding_share(batches) < padding_share(naive)


def test_buckets_cover_every_example_once_per_epoch_and_replay_by_epoch():
    lengths = [(7 * i) % 23 for i in range(23)]  # 0..22 shuffled
    sampler = LengthBucketSampler(lengths, bucket_size=4, seed=0)
    epochs = []
    for epoch in (0, 1, 0):
        sampler.set_epoch(epoch)
        epochs.append(list(sampler))
    assert epochs[0] == epochs[2] != epochs[1]
    for order in epochs:
        assert sorted(order) == list(range(23))
        buckets = [sorted(lengths[i] for i in order[j : j + 4]) for j in range(0, 23, 4)]
        assert sorted(buckets[:-1]) == [list(range(k, k + 4)) for k in range(0, 20, 4)]
        assert buckets[-1] == [20, 21, 22]  # the smaller bucket stays last
    assert [lengths[i] for i in epochs[0][:20]] != sorted(lengths)[:20]  # buckets in random order


# --- training and inference ---------------------------------------------------------------------


def test_training_learns_the_answers_and_generation_keeps_input_order(trained):
    prompts = [e["prompt"] for e in EXAMPLES]
    assert generate(trained, prompts, max_new_tokens=8, batch_size=3) == [e["answer"] for e in EXAMPLES]
    longer = "[INST] which topic : the orbit of the planet and the rocket today label : [/INST]"
    out = generate(trained, prompts[:1] + [longer] + prompts[1:][::-1], max_new_tokens=8, batch_size=2)
    assert out[:1] + out[2:] == ["sport", "crypt", "medicine", "space"] and isinstance(out[1], str)


def test_a_prompt_beyond_the_context_gets_none(trained):
    context = AutoModelForCausalLM.from_pretrained(trained).config.max_position_embeddings
    long_prompt = "orbit " * (context - 8)  # fits the context, not the context minus 10 new tokens
    out = generate(trained, [EXAMPLES[1]["prompt"], long_prompt], max_new_tokens=10, batch_size=2)
    assert out == ["space", None]
    assert choose(trained, [long_prompt + "orbit " * 10], [["space"]], batch_size=2) == [None]


def test_constrained_decoding_picks_the_trained_answer(trained):
    labels = ["sport", "space", "medicine", "crypt"]
    chosen = choose(trained, [e["prompt"] for e in EXAMPLES], [labels] * 4, batch_size=3)
    assert chosen == [e["answer"] for e in EXAMPLES]


def test_candidate_scores_equal_a_full_forward_of_prompt_and_answer(base, tokenizer):
    model = AutoModelForCausalLM.from_pretrained(base).eval()
    prompt = encode_prompt(tokenizer, EXAMPLES[0]["prompt"])
    answers = [encode_answer(tokenizer, a) for a in ("sport", "rec.sport.baseball", "x")]
    scores = candidate_log_likelihoods(model, [prompt], [answers], batch_size=2)[0]
    for answer, score in zip(answers, scores, strict=True):
        assert score == pytest.approx(full_forward_score(model, prompt, answer), abs=1e-4)
    assert len({round(s, 3) for s in scores}) == 3


def full_forward_score(model, prompt: list[int], answer: list[int]) -> float:
    with torch.no_grad():
        logits = model(input_ids=torch.tensor([prompt + answer])).logits[0]
    log_probs = torch.log_softmax(logits, dim=-1)
    return sum(log_probs[len(prompt) - 1 + j, token].item() for j, token in enumerate(answer))


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_batched_scores_of_prompts_after_a_shared_prefix_equal_full_forwards(base, tokenizer, attention):
    """Prompts of different lengths (padding between the shared prefix and the rest) and answers
    that share beginnings (one token tree), in one batch and across batches, with either kind of
    attention (the tree's mask is additive)."""
    model = AutoModelForCausalLM.from_pretrained(base, attn_implementation=attention).eval()
    prompts = [encode_prompt(tokenizer, e["prompt"]) for e in EXAMPLES]
    prompts[1] = encode_prompt(tokenizer, EXAMPLES[1]["prompt"] + " the rocket and the moon")
    answers = [encode_answer(tokenizer, a) for a in ("rec.sport.baseball", "rec.sport", "rec.autos", "sport")]
    per_prompt = [answers, answers[::-1], answers[:2], answers[3:]]
    for batch_size in (3, 4):
        scores = candidate_log_likelihoods(model, prompts, per_prompt, batch_size=batch_size)
        for prompt, options, row in zip(prompts, per_prompt, scores, strict=True):
            expected = [full_forward_score(model, prompt, answer) for answer in options]
            assert row == pytest.approx(expected, abs=1e-4)


def test_generation_after_a_shared_prefix_equals_generating_each_prompt_alone(trained, tokenizer):
    model = AutoModelForCausalLM.from_pretrained(trained).eval()
    prompts = [e["prompt"] for e in EXAMPLES] + ["[INST] which topic : the orbit of the moon label : [/INST]"]
    alone = []
    for prompt in prompts:
        ids = torch.tensor([encode_prompt(tokenizer, prompt)])
        with torch.no_grad():
            tokens = model.generate(input_ids=ids, max_new_tokens=6, do_sample=False, pad_token_id=0)
        alone.append(tokenizer.decode(tokens[0, ids.shape[1] :], skip_special_tokens=True).strip())
    assert generate(trained, prompts, max_new_tokens=6, batch_size=3) == alone


def test_a_shared_prefix_run_once_per_batch_gives_the_loss_of_whole_examples(base, tmp_path):
    """The same micro-batch, with and without the prefix split off: the same loss and gradient."""
    examples = [{**e, "prompt": "[INST] which topic among the four below " + e["prompt"]} for e in EXAMPLES]
    losses, grads = [], []
    for shared in (False, True):
        trainer = causal_trainer(base, examples, {**HPARAMS, "shared_prefix": shared}, tmp_path / str(shared))
        assert len(trainer.prefix) > 8 if shared else trainer.prefix == []
        batch = next(iter(trainer.get_train_dataloader()))
        trainer.model.zero_grad()
        loss = trainer.compute_loss(trainer.model, batch)
        loss.backward()
        losses.append(loss.item())
        grads.append(trainer.model.model.embed_tokens.weight.grad.clone())
    assert losses[1] == pytest.approx(losses[0], rel=1e-4)
    assert torch.allclose(grads[1], grads[0], atol=1e-5) and grads[0].abs().sum() > 0


# four prompts of four lengths, each answer one word (one token with the tiny tokenizer) and EOS
UNEVEN = [
    {**e, "prompt": e["prompt"].replace("today", "today " * (2 * k + 1))} for k, e in enumerate(EXAMPLES)
]


def _loss_and_gradient(trainer, batch) -> tuple[float, torch.Tensor]:
    trainer.model.zero_grad()
    loss = trainer.compute_loss(trainer.model, batch)
    loss.backward()
    return loss.item(), trainer.model.model.embed_tokens.weight.grad.clone()


def test_a_packed_batch_gives_the_mean_loss_of_its_examples_alone_without_padding(base, tmp_path):
    """The four examples packed into one row: no token is padding (padded, the same batch is a
    third padding), and the loss is the mean of their losses each run alone, the gradient that
    of the padded batch: the examples do not see each other."""
    packed = causal_trainer(base, UNEVEN, {**HPARAMS, "packing": True}, tmp_path / "packed")
    padded = causal_trainer(base, UNEVEN, HPARAMS, tmp_path / "padded")
    (row,) = list(packed.get_train_dataloader())
    (batch,) = list(padded.get_train_dataloader())
    lengths = [len(ids) for ids in packed.train_dataset["input_ids"]]
    assert row["input_ids"].shape == (1, sum(lengths)) and "attention_mask" not in row
    starts = torch.nonzero(row["position_ids"][0] == 0).flatten().tolist() + [sum(lengths)]
    assert sorted(b - a for a, b in zip(starts, starts[1:])) == sorted(
        lengths
    )  # positions restart per example
    real = sum(lengths) / row["input_ids"].numel()
    padded_real = batch["attention_mask"].sum().item() / batch["attention_mask"].numel()
    assert real == 1.0 >= 0.95 > padded_real
    alone = []
    with torch.no_grad():
        for feature in packed.train_dataset:
            ids, labels = torch.tensor([feature["input_ids"]]), torch.tensor([feature["labels"]])
            assert (labels != -100).sum() == 2  # answer + EOS: a mean per example is a mean per token
            alone.append(packed.model(input_ids=ids, labels=labels).loss.item())
    packed_loss, packed_grad = _loss_and_gradient(packed, row)
    padded_loss, padded_grad = _loss_and_gradient(padded, batch)
    assert packed_loss == pytest.approx(sum(alone) / 4, abs=1e-5)
    assert packed_loss == pytest.approx(padded_loss, abs=1e-5)
    assert torch.allclose(packed_grad, padded_grad, atol=1e-5) and packed_grad.abs().sum() > 0


def test_packing_and_a_shared_prefix_exclude_each_other(base, tmp_path):
    with pytest.raises(ValueError, match="packing and shared_prefix exclude each other"):
        causal_trainer(base, EXAMPLES, {**HPARAMS, "packing": True, "shared_prefix": True}, tmp_path)


def test_the_loss_in_chunks_equals_the_models_own_loss_and_gradients(base, tmp_path):
    """Logits of at most 3 positions at a time (forward and recomputed backward), against the
    model's loss over the full logits of the same padded batch."""
    trainer = causal_trainer(base, UNEVEN, HPARAMS, tmp_path)
    batch = next(iter(trainer.get_train_dataloader()))
    model = trainer.model
    model.zero_grad()
    full = model(**batch)
    full.loss.backward()
    full_grads = [p.grad.clone() for p in model.parameters()]
    lm_head = model.get_output_embeddings()
    budget = 3 * lm_head.out_features * 4
    trainer.compute_loss_func = loss = ChunkedCausalLoss(lm_head, budget)
    shapes = []
    hook = lm_head.register_forward_hook(lambda module, args, out: shapes.append(out.shape))
    model.zero_grad()
    chunked = trainer.compute_loss(model, batch)
    chunked.backward()
    hook.remove()
    assert loss.chunk_size() == 3 and ChunkedCausalLoss(lm_head, 1).chunk_size() == 1
    assert chunked.item() == pytest.approx(full.loss.item(), abs=1e-6)
    for p, grad in zip(model.parameters(), full_grads, strict=True):
        assert torch.allclose(p.grad, grad, atol=1e-6)
    answer_tokens = (batch["labels"] != -100).sum().item()  # 8: four answers and their EOS
    assert all(rows * shape_v * 4 <= budget for rows, shape_v in shapes)
    assert sum(rows for rows, _ in shapes) == 2 * answer_tokens  # each chunk once more in backward


def test_a_shared_prefix_needs_one_process_without_activation_checkpointing(base, tmp_path):
    hparams = {**HPARAMS, "shared_prefix": True, "activation_checkpointing": True}
    with pytest.raises(ValueError, match="shared_prefix needs one process"):
        causal_trainer(base, EXAMPLES, hparams, tmp_path)


def test_training_resumes_from_the_step_checkpoint(base, tmp_path):
    hparams = {
        **HPARAMS,
        "max_steps": 6,
        "save_steps": 3,
        "per_device_train_batch_size": 2,
        "effective_batch_size": 4,
        "activation_checkpointing": True,
        "logging_steps": 1,
    }
    kwargs = {"out_dir": tmp_path / "model", "checkpoint_dir": tmp_path / "ckpt"}
    with pytest.raises(KeyboardInterrupt):
        train_causal_lm(base, EXAMPLES * 4, hparams, callbacks=[StopAfterFirstSave()], **kwargs)
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["checkpoint-3"]
    assert not (tmp_path / "model").exists()
    steps = RecordSteps()
    summary = train_causal_lm(base, EXAMPLES * 4, hparams, callbacks=[steps], **kwargs)
    assert summary["resumed_from"].endswith("checkpoint-3")
    assert (steps.start_step, steps.steps_run, summary["global_step"]) == (3, 3, 6)
    assert not (tmp_path / "ckpt").exists()
    saved = AutoModelForCausalLM.from_pretrained(tmp_path / "model")
    assert saved.config.model_type == "llama" and saved.config.use_cache
    # the training log survives the checkpoints, the steps before the kill included
    history = read_jsonl(tmp_path / "model" / "train_log.jsonl")
    assert [r["step"] for r in history if "loss" in r] == [1, 2, 3, 4, 5, 6]
    assert AutoTokenizer.from_pretrained(tmp_path / "model").eos_token == "</s>"


def test_tensorboard_shows_each_runs_loss_under_its_directory(base, tmp_path):
    """What the README says of `tensorboard --logdir logs/<preset>/tensorboard`: a trained run's loss
    per step, under logs/<preset>/tensorboard/<paper>/<run>/ (ftrepro.fit.tensorboard_dir), one run
    per folder."""
    from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

    from ftrepro.fit import tensorboard_logs

    hparams = {**HPARAMS, "max_steps": 3, "save_steps": 3, "logging_steps": 1}
    for run in ("run.a", "run.b"):
        with tensorboard_logs(tmp_path / "tensorboard" / "paper" / run):
            train_causal_lm(base, EXAMPLES, hparams, tmp_path / run / "model", tmp_path / run / "ckpt")
    board = EventMultiplexer().AddRunsFromDirectory(str(tmp_path / "tensorboard")).Reload()
    assert set(board.Runs()) == {"paper/run.a", "paper/run.b"}
    for run in board.Runs():
        assert [event.step for event in board.Scalars(run, "train/loss")] == [1, 2, 3]


def test_missing_hparams_are_named(base, tmp_path):
    hparams = {k: v for k, v in HPARAMS.items() if k not in ("max_steps", "save_steps")}
    with pytest.raises(ValueError, match="save_steps, max_steps or num_train_epochs"):
        train_causal_lm(base, EXAMPLES, hparams, tmp_path / "m", tmp_path / "c")


# --- multi-process launch -----------------------------------------------------------------------


def test_torchrun_command_starts_one_worker_per_gpu(tmp_path):
    command = torchrun_command(8, tmp_path / "launch.json")
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--standalone" in command and "--nproc-per-node=8" in command
    assert command[-3:] == ["-m", "ftrepro.train.launch", str(tmp_path / "launch.json")]


def test_two_worker_processes_train_one_model(base, tmp_path, capfd):
    """torchrun with two CPU workers (gloo instead of NCCL, no DeepSpeed: no GPU here): one
    process group splits the effective batch, and one worker writes the model."""
    hparams = {**HPARAMS, "max_steps": 2, "per_device_train_batch_size": 1, "effective_batch_size": 4}
    job = {"examples": EXAMPLES, "hparams": hparams}
    run_distributed(
        2, train_causal_lm, base_dir=base, out_dir=tmp_path / "model", checkpoint_dir=tmp_path / "ckpt", **job
    )
    assert "batch of 4: 2 process(es) x 1 per device x 2 accumulation steps" in capfd.readouterr().err
    assert (tmp_path / "model" / "config.json").is_file() and not (tmp_path / "ckpt").exists()
    with pytest.raises(subprocess.CalledProcessError):
        missing = {
            "base_dir": tmp_path / "missing",
            "out_dir": tmp_path / "m2",
            "checkpoint_dir": tmp_path / "c2",
        }
        run_distributed(2, train_causal_lm, **missing, **job)


def test_zero3_offload_config_offloads_the_optimizer_and_gathers_weights_on_save():
    config = json.loads((DEEPSPEED / "zero3_offload.json").read_text())
    zero = config["zero_optimization"]
    assert zero["stage"] == 3 and zero["offload_optimizer"]["device"] == "cpu"
    assert zero["stage3_gather_16bit_weights_on_model_save"] is True
    assert config["bf16"]["enabled"] == "auto" and config["train_micro_batch_size_per_gpu"] == "auto"
