"""Loaded by every Python process of a deepspeed test's snakemake run (this directory is put on
its PYTHONPATH); acts in torchrun workers only (RANK set) and only while FTREPRO_TEST_SAVES is.

Rank 0 appends the files of each checkpoint the Trainer completes to FTREPRO_TEST_SAVES (JSON
lines); the rank named by FTREPRO_TEST_KILL_RANK then SIGKILLs itself, as a failing node would,
right after its first complete checkpoint.
"""

import os

if "RANK" in os.environ and os.environ.get("FTREPRO_TEST_SAVES"):
    import json
    import signal
    from pathlib import Path

    import transformers

    class _SaveHook(transformers.TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            rank = os.environ["RANK"]
            checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if rank == "0":
                files = sorted(str(p.relative_to(checkpoint)) for p in checkpoint.rglob("*") if p.is_file())
                with open(os.environ["FTREPRO_TEST_SAVES"], "a") as f:
                    f.write(json.dumps({"checkpoint": str(checkpoint), "files": files}) + "\n")
            if rank == os.environ.get("FTREPRO_TEST_KILL_RANK"):
                os.kill(os.getpid(), signal.SIGKILL)

    _init = transformers.Trainer.__init__

    def _init_with_hook(self, *args, **kwargs):
        _init(self, *args, **kwargs)
        self.add_callback(_SaveHook())

    transformers.Trainer.__init__ = _init_with_hook
