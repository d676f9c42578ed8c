"""The distributed path: an SFT stage in two CPU processes under ``accelerate launch`` (DDP over gloo).

``accelerate launch --cpu`` starts a single process unless it gets an MPI hostfile, so the test uses
the multi-process launcher (torchrun); on a machine without GPUs xinyu forms a CPU process group.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml

from tests.train.conftest import tiny_recipe

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_cpu_training(tmp_path, small_model_dir, dialogue_files):
    recipe = tiny_recipe(tmp_path, small_model_dir, dialogue_files, name="ddp")
    recipe["defaults"].update({"batch_size": 2, "grad_accum": 2})
    recipe["stages"] = [{"name": "sft", "data": {"train": str(dialogue_files["train"])}, "max_steps": 3}]
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    launcher = Path(sys.executable).parent / "accelerate"
    cmd = [str(launcher), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no",
           "--dynamo_backend", "no", "--main_process_port", str(_free_port()), "-m", "xinyu", "train", str(path)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    run_dir = tmp_path / "runs" / "ddp"
    summary = json.loads((run_dir / "train_summary.json").read_text())
    stage = summary["stages"][0]
    assert stage["steps"] == 3
    assert stage["hyperparameters"]["effective_batch"] == 2 * 2 * 2  # batch x accumulation x processes
    # Both ranks fed the step: the token count covers 3 steps x 2 micro-batches x 2 ranks x 2 dialogues.
    events = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if "loss" in e] == [1, 2, 3]  # written once, by the main process
    assert stage["tokens"] > 0 and stage["tokens"] >= 3 * 2 * 2 * 2 * 20
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()
