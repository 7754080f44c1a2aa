"""The layout a training job runs in: chosen by the plan on GPU presets, the recipe's on CPU ones.

A layout is a DeepSpeed ZeRO stage (2 or 3, for recipes that train under DeepSpeed; the others run
plain, as DDP over several GPUs), the optimizer offloaded to the host (DeepSpeed's CPU Adam) or
not, GPUs per node and nodes, activation checkpointing, and the micro-batch per GPU with the
gradient accumulation that keeps the recipe's effective batch. `choose` enumerates every layout
of a job, keeps those whose estimated memory (ftrepro.costs: DeepSpeed's estimators plus
activations of the longest micro-batch) fits one GPU (cluster.gpu_memory_gb) and one node's host
memory (cluster.host_memory_gb_per_node) on at most cluster.max_nodes nodes, considers optimizer
offload only when nothing else fits, and picks the layout the throughput model below ranks
fastest per GPU: the fewest GPU-seconds per optimizer step, counting the GPUs a job holds (its
own, or its share of a node's host memory where that is more). Ties go to fewer GPUs, fewer
nodes, a lower ZeRO stage, no checkpointing, the recipe's micro-batch, then a larger one.

The throughput model (config plan.layout_model) only ranks layouts; GPU-hours come from measured
throughput (ftrepro.costs.Measurements). Per optimizer step of the effective batch:
- compute: the training FLOPs (ftrepro.costs.flops_per_token, plus a recomputed forward with
  checkpointing) over GPUs x peak x compute_mfu, in proportion slower where a micro-batch holds
  fewer than saturating_tokens tokens (a GPU that is not kept busy);
- communication, per GPU: ZeRO-2 reduce-scatters the bf16 gradients every micro-batch and gathers
  the updated weights once per step; ZeRO-3 gathers the weights for the forward, the backward and
  a recomputation and reduce-scatters the gradients every micro-batch; DDP all-reduces the fp32
  gradients of a full fine-tune once per step (LoRA's adapters: nothing to speak of). Each moves
  (n-1)/n of the bytes at the bandwidth within a node, or between nodes where the job spans several;
- host optimizer step (offload): each GPU's share of the parameters through CPU Adam on its
  cpus_per_gpu cores, and 4 bytes a parameter over the host link (gradients down, weights up).

Torch-free: common.smk reads every job's layout at parse time, and every SLURM job re-parses it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from ftrepro.config import Model
from ftrepro.costs import (
    GB,
    Zero,
    activation_bytes,
    flops_per_token,
    model_states_bytes,
    parameters,
    zero_states_bytes,
)

DEEPSPEED_DIR = "config/deepspeed"
# (stage, optimizer offloaded) of a recipe that trains under DeepSpeed
ZERO_OPTIONS = ((2, False), (3, False), (2, True), (3, True))


class LayoutError(ValueError):
    """No layout of a job fits the cluster; the message names the closest one and its memory."""


@dataclass(frozen=True)
class Training:
    """What a training job asks of its layout: its family, the longest example and the recipe's
    batch, checkpointing and DeepSpeed config (which CPU presets run as they are)."""

    family: str  # causal | seq2seq | lora | encoder: the measured table's families
    mode: str  # full | lora
    example_tokens: int  # the longest example (seq2seq: source and target together)
    effective_batch: int  # examples per optimizer step
    micro_batch: int  # the recipe's per-device batch
    accumulation: int | None = None  # the recipe's gradient_accumulation_steps; None: effective_batch_size
    checkpointing: bool = False  # the recipe's activation_checkpointing
    deepspeed: str | None = None  # the recipe's DeepSpeed config where it applies: the job may use ZeRO
    target_tokens: int = 0  # seq2seq: the decoder's share of example_tokens
    logits: bool = True  # a language-model head (vocabulary logits), not a small one


@dataclass(frozen=True)
class Layout:
    zero: int | None  # DeepSpeed ZeRO stage; None: no DeepSpeed (one process, or DDP)
    offload: bool  # optimizer states and step on the host (CPU Adam)
    deepspeed: str | None  # the config/deepspeed/ file of this stage and offload
    processes: int  # per node: one per GPU (CPU presets: launch.cpu_processes)
    nodes: int
    checkpointing: bool  # activation checkpointing
    micro_batch: int  # per process
    accumulation: int  # micro-batches per optimizer step

    @property
    def kind(self) -> str:
        """What the measured table keys a layout by: stage, offload and checkpointing (GPU counts
        and micro-batches are not measured separately)."""
        kind = f"zero{self.zero}" if self.zero else "plain"
        return kind + ("+offload" if self.offload else "") + ("+checkpointing" if self.checkpointing else "")

    @property
    def gpus(self) -> int:
        return self.processes * self.nodes

    def structure(self) -> tuple:
        """Everything but the micro-batch: what makes two layouts different runs."""
        return self.zero, self.offload, self.processes, self.nodes, self.checkpointing

    def recipe(self, recipe: dict) -> dict:
        """`recipe` with this layout's micro-batch, accumulation (where the recipe states steps
        rather than an effective_batch_size) and checkpointing; keys whose value is unchanged stay
        as they were (a CPU preset's recipe layout changes nothing)."""
        wanted = {
            "per_device_train_batch_size": self.micro_batch,
            "activation_checkpointing": self.checkpointing,
        }
        if "effective_batch_size" not in recipe:
            wanted["gradient_accumulation_steps"] = self.accumulation
        defaults = {"activation_checkpointing": False, "gradient_accumulation_steps": 1}
        changed = {k: v for k, v in wanted.items() if recipe.get(k, defaults.get(k)) != v}
        return {**recipe, **changed}

    def __str__(self) -> str:
        engine = f"ZeRO-{self.zero}" if self.zero else "no DeepSpeed"
        where = f"{self.processes} GPU{'s' if self.processes > 1 else ''}"
        where += f" x {self.nodes} nodes" if self.nodes > 1 else ""
        return (
            f"{engine}{' + optimizer offload' if self.offload else ''}, {where}, micro-batch "
            f"{self.micro_batch} x {self.accumulation}{', checkpointing' if self.checkpointing else ''}"
        )


def deepspeed_config(zero: int, offload: bool) -> str:
    return f"{DEEPSPEED_DIR}/zero{zero}{'_offload' if offload else ''}.json"


def recipe_layout(training: Training, processes: int) -> Layout:
    """The layout a CPU preset runs a job in: the recipe's, on launch.cpu_processes processes."""
    zero = Zero.read(training.deepspeed) if training.deepspeed else None
    if training.accumulation is not None:
        accumulation = training.accumulation
    else:
        accumulation = max(1, training.effective_batch // (training.micro_batch * processes))
    return Layout(
        zero.stage if zero else None,
        bool(zero and zero.offload_optimizer),
        training.deepspeed,
        processes,
        1,
        training.checkpointing,
        training.micro_batch,
        accumulation,
    )


def recipe_choice(training: Training, processes: int) -> Choice:
    """A CPU preset's job: its recipe's layout, nothing sized or chosen."""
    unsized = Candidate(recipe_layout(training, processes), 0.0, 0.0, 0.0, 0.0, 0.0, 0)
    return Choice(unsized, None, "the recipe's layout (CPU preset)")


# --- memory and time of one layout ----------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A layout with its estimated memory and modelled time per optimizer step."""

    layout: Layout
    gpu_bytes: float  # per GPU
    host_bytes: float  # per node
    compute_s: float
    communication_s: float
    host_step_s: float  # offload: the optimizer step on the host
    held_gpus: int  # its GPUs, or its share of the nodes' host memory in GPUs where more

    @property
    def gpu_seconds(self) -> float:
        return self.held_gpus * (self.compute_s + self.communication_s + self.host_step_s)


def memory(model: Model, training: Training, layout: Layout) -> tuple[float, float]:
    """(bytes per GPU, host bytes per node): model states and the longest micro-batch's activations."""
    if layout.zero:
        zero = Zero(layout.zero, layout.offload)
        host, states = zero_states_bytes(model, zero, layout.processes, layout.nodes)
    else:  # every process loads the fp32 model on the host first (DeepSpeed's estimators count it so)
        host = 4 * parameters(model) * layout.processes * 1.5
        states = model_states_bytes(model, training.mode, layout.processes, None)
    tokens = layout.micro_batch * training.example_tokens
    target = layout.micro_batch * training.target_tokens
    held = activation_bytes(model, tokens - target, layout.checkpointing, training.logits and not target)
    if target:  # seq2seq: the decoder stack on the targets, and their logits
        held += activation_bytes(model, target, layout.checkpointing, True)
    return states + held, host


def candidate(model: Model, training: Training, layout: Layout, cluster: dict, plan: dict) -> Candidate:
    """`layout` sized and timed (`plan`: config plan.layout_model with the GPU kind's peak_tflops)."""
    gpu_bytes, host_bytes = memory(model, training, layout)
    params, world = parameters(model), layout.gpus
    flops = flops_per_token(model, training.mode) * training.effective_batch * training.example_tokens
    if layout.checkpointing:  # one more forward: 2 of the 6 (full) or 4 (LoRA) FLOPs a parameter
        flops *= 1 + 2 / (4 if training.mode == "lora" else 6)
    busy = min(1.0, layout.micro_batch * training.example_tokens / plan["saturating_tokens"])
    compute = flops / (world * plan["peak_tflops"] * 1e12 * plan["compute_mfu"] * busy)
    share = (world - 1) / world
    weights = 2 * params  # bf16
    if layout.zero == 2:
        moved = (layout.accumulation + 1) * weights * share
    elif layout.zero == 3:
        moved = layout.accumulation * (3 + layout.checkpointing) * weights * share
    else:
        moved = 2 * 4 * params * share if training.mode == "full" else 0.0
    bandwidth = plan["bandwidth_gb_s"]["node" if layout.nodes == 1 else "between_nodes"] * GB
    host_step = 0.0
    if layout.offload:
        per_gpu = params / world
        host_step = per_gpu / (cluster["cpus_per_gpu"] * plan["cpu_adam_params_per_s"])
        host_step += 4 * per_gpu / (plan["host_link_gb_s"] * GB)
    node_share = math.ceil(cluster["gpus_per_node"] * host_bytes / (cluster["host_memory_gb_per_node"] * GB))
    held = max(layout.processes, min(node_share, cluster["gpus_per_node"])) * layout.nodes
    return Candidate(layout, gpu_bytes, host_bytes, compute, moved / bandwidth, host_step, held)


def layouts(training: Training, cluster: dict) -> Iterator[Layout]:
    """Every layout of a job: ZeRO 2/3 with and without offload (DeepSpeed recipes) or none; a
    power of two of GPUs per node on 1..max_nodes nodes; checkpointing or not; each micro-batch
    that divides the effective batch over the GPUs."""
    options = ZERO_OPTIONS if training.deepspeed else ((None, False),)
    per_node = [2**i for i in range(int(math.log2(cluster["gpus_per_node"])) + 1)]
    for zero, offload in options:
        config = deepspeed_config(zero, offload) if zero else None
        for nodes in range(1, cluster["max_nodes"] + 1):
            for processes in per_node:
                world = processes * nodes
                if training.effective_batch % world:
                    continue
                per_gpu = training.effective_batch // world
                for checkpointing in (False, True):
                    for micro in (m for m in range(1, per_gpu + 1) if per_gpu % m == 0):
                        yield Layout(
                            zero, offload, config, processes, nodes, checkpointing, micro, per_gpu // micro
                        )


# --- the choice ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    chosen: Candidate
    runner_up: Candidate | None  # the best layout of another structure (micro-batches aside)
    reason: str  # why the chosen layout, against the runner-up (and, with offload, why offload)

    @property
    def layout(self) -> Layout:
        return self.chosen.layout


def choose(model: Model, training: Training, cluster: dict, plan: dict) -> Choice:
    """The fastest layout per GPU that fits (see the module doc); LayoutError if none does."""
    every = [candidate(model, training, layout, cluster, plan) for layout in layouts(training, cluster)]
    fitting = [c for c in every if _fits(c, cluster)]
    plain = [c for c in fitting if not c.layout.offload]
    pool = sorted(plain or fitting, key=lambda c: _rank(c, training))
    if not pool:
        closest = min(every, key=lambda c: c.gpu_bytes, default=None)
        raise LayoutError(f"needs more than the cluster has in every layout: {_needs(closest, cluster)}")
    chosen = pool[0]
    runner_up = next((c for c in pool if c.layout.structure() != chosen.layout.structure()), None)
    reason = _why(chosen, runner_up, training)
    if chosen.layout.offload:
        closest = min((c for c in every if not c.layout.offload), key=lambda c: c.gpu_bytes, default=None)
        reason = f"offload, as nothing without it fits ({_needs(closest, cluster)}); {reason}"
    return Choice(chosen, runner_up, reason)


def _fits(c: Candidate, cluster: dict) -> bool:
    return (
        c.gpu_bytes <= cluster["gpu_memory_gb"] * GB
        and c.host_bytes <= cluster["host_memory_gb_per_node"] * GB
    )


def _needs(c: Candidate | None, cluster: dict) -> str:
    """What the layout that needs the least GPU memory needs, against the cluster."""
    if c is None:
        return "no GPU count divides the effective batch"
    return (
        f"the least, {c.layout}, needs an estimated {c.gpu_bytes / GB:.1f} GB per GPU (cluster.gpu_memory_gb: "
        f"{cluster['gpu_memory_gb']:g}) and {c.host_bytes / GB:.0f} GB of host memory per node "
        f"(cluster.host_memory_gb_per_node: {cluster['host_memory_gb_per_node']:g})"
    )


def _rank(c: Candidate, training: Training) -> tuple:
    layout = c.layout
    return (
        float(f"{c.gpu_seconds:.4g}"),  # equal to 4 digits: a tie, broken by what is simpler
        layout.gpus,
        layout.nodes,
        layout.zero or 0,
        layout.checkpointing,
        layout.micro_batch != training.micro_batch,
        -layout.micro_batch,
    )


TIE_BREAKS = ("fewer GPUs", "fewer nodes", "a lower ZeRO stage", "no checkpointing")


def _why(chosen: Candidate, runner: Candidate | None, training: Training) -> str:
    if runner is None:
        return "the only layout that fits"
    ratio = runner.gpu_seconds / chosen.gpu_seconds
    if f"{runner.gpu_seconds:.4g}" == f"{chosen.gpu_seconds:.4g}":
        mine, theirs = _rank(chosen, training)[1:5], _rank(runner, training)[1:5]
        tie = next(name for name, a, b in zip(TIE_BREAKS, mine, theirs) if a != b)
        return f"runner-up {runner.layout}: the same modelled GPU time, {tie} preferred"
    parts = {
        "more compute": (runner.compute_s * runner.held_gpus, chosen.compute_s * chosen.held_gpus),
        "more communication": (
            runner.communication_s * runner.held_gpus,
            chosen.communication_s * chosen.held_gpus,
        ),
        "a longer host optimizer step": (
            runner.host_step_s * runner.held_gpus,
            chosen.host_step_s * chosen.held_gpus,
        ),
    }
    worst = max(parts, key=lambda name: parts[name][0] - parts[name][1])
    if runner.held_gpus > runner.layout.gpus:
        worst += f"; its host memory takes {runner.held_gpus} GPUs' share of the nodes"
    return f"runner-up {runner.layout}: {ratio:.2f}x the modelled GPU time ({worst})"
