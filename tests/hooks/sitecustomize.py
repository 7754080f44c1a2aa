"""Loaded by every Python process of a deepspeed test's snakemake run (this directory is put on
its PYTHONPATH); acts in torchrun workers only (RANK set) and only while FTREPRO_TEST_SAVES is.

Rank 0 appends the files of each checkpoint the Trainer completes to FTREPRO_TEST_SAVES (JSON
lines); the rank named by FTREPRO_TEST_KILL_RANK then SIGKILLs itself, as a failing node would,
right after its first complete checkpoint, and with FTREPRO_TEST_KILL_LAUNCHER set first its
torchrun launcher (its parent), as a node that goes down takes both.

Lazy: the Trainer is patched when a process imports transformers.trainer, never at start-up, so
that the helper processes a worker spawns (DeepSpeed's op loader runs py-cpuinfo in a fresh
interpreter, which inherits RANK) do not import transformers: that cost 14 s per op load.
"""

import os
import sys

if "RANK" in os.environ and os.environ.get("FTREPRO_TEST_SAVES"):
    import importlib.abc
    import importlib.util

    def _patch(trainer_module) -> None:
        import json
        import signal
        from pathlib import Path

        class _SaveHook(trainer_module.TrainerCallback):
            def on_save(self, args, state, control, **kwargs):
                rank = os.environ["RANK"]
                checkpoint = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if rank == "0":
                    files = sorted(
                        str(p.relative_to(checkpoint)) for p in checkpoint.rglob("*") if p.is_file()
                    )
                    with open(os.environ["FTREPRO_TEST_SAVES"], "a") as f:
                        f.write(json.dumps({"checkpoint": str(checkpoint), "files": files}) + "\n")
                if rank == os.environ.get("FTREPRO_TEST_KILL_RANK"):
                    if os.environ.get("FTREPRO_TEST_KILL_LAUNCHER"):
                        os.kill(os.getppid(), signal.SIGKILL)
                    os.kill(os.getpid(), signal.SIGKILL)

        init = trainer_module.Trainer.__init__

        def init_with_hook(self, *args, **kwargs):
            init(self, *args, **kwargs)
            self.add_callback(_SaveHook())

        trainer_module.Trainer.__init__ = init_with_hook

    class _PatchTrainerOnImport(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name != "transformers.trainer":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec(name)
            execute = spec.loader.exec_module

            def exec_module(module):
                execute(module)
                _patch(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, _PatchTrainerOnImport())
