"""Fine-tune a risk classifier from a labelled file (``xinyu safety train``).

Input: ``.jsonl`` (objects with ``text`` and ``label``) or ``.tsv``/``.csv`` (a header row with
``text`` and ``label`` columns). Labels: ``none``/``distress``/``crisis`` (a 3-way model), or
``0``/``1`` (binary, 1 = risk). Bad rows raise a :class:`~xinyu.errors.DataError` naming the line.

The base can be any model argument xinyu resolves (an alias such as ``gemma-3-270m``, a local
directory, a cached hub id such as a Chinese BERT); a sequence-classification head is added. The
output directory holds the model, its tokenizer and ``xinyu_classifier.json`` (labels, data size,
base), written atomically.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from xinyu.errors import DataError
from xinyu.io import atomic_dir, iter_jsonl, read_text, write_json

log = logging.getLogger(__name__)

NAMED = ("none", "distress", "crisis")


@dataclass
class LabelledData:
    """Texts, integer labels and the label names (index = class id)."""

    texts: list[str]
    labels: list[int]
    names: list[str]


def _label(raw: object, path: Path, line: int) -> str:
    value = str(raw).strip().lower() if raw is not None else ""
    if value in NAMED or value in ("0", "1"):
        return value
    raise DataError(f"label {raw!r} is not one of none/distress/crisis or 0/1", path=path, line=line, field="label")


def read_labelled(path: str | Path) -> LabelledData:
    """Read and validate a labelled file (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", path=path)
    rows: list[tuple[int, str, str]] = []
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        for line, obj in iter_jsonl(path):
            if not isinstance(obj, dict):
                raise DataError("expected a JSON object with 'text' and 'label'", path=path, line=line)
            text = obj.get("text")
            if not isinstance(text, str) or not text.strip():
                raise DataError("missing or empty text", path=path, line=line, field="text")
            rows.append((line, text, _label(obj.get("label"), path, line)))
    elif suffix in (".tsv", ".csv"):
        delimiter = "\t" if suffix == ".tsv" else ","
        reader = csv.reader(read_text(path).splitlines(), delimiter=delimiter)
        header = [h.strip().lower() for h in next(reader, [])]
        if "text" not in header or "label" not in header:
            raise DataError(f"the header must name 'text' and 'label' columns, got {header}", path=path, line=1)
        ti, li = header.index("text"), header.index("label")
        for line, row in enumerate(reader, start=2):
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) <= max(ti, li):
                raise DataError(f"expected {len(header)} columns, got {len(row)}", path=path, line=line)
            if not row[ti].strip():
                raise DataError("empty text", path=path, line=line, field="text")
            rows.append((line, row[ti], _label(row[li], path, line)))
    else:
        raise DataError("expected a .jsonl, .tsv or .csv file", path=path)
    if not rows:
        raise DataError("no labelled rows", path=path)
    values = {r[2] for r in rows}
    if values <= {"0", "1"}:
        names = ["none", "crisis"]
        labels = [int(r[2]) for r in rows]
    elif values <= set(NAMED):
        names = list(NAMED)
        labels = [NAMED.index(r[2]) for r in rows]
    else:
        line = next(r[0] for r in rows if r[2] in ("0", "1"))
        raise DataError("mixes numeric (0/1) and named labels; use one scheme", path=path, line=line, field="label")
    return LabelledData([r[1] for r in rows], labels, names)


def train_classifier(
    data: str | Path,
    base: str,
    out_dir: str | Path,
    *,
    epochs: float = 3.0,
    learning_rate: float = 5e-5,
    batch_size: int = 16,
    max_length: int = 128,
    seed: int = 0,
    device: str = "auto",
) -> Path:
    """Fine-tune ``base`` with a classification head on ``data``; save to ``out_dir``.

    Returns:
        The output directory (loadable by :class:`~xinyu.safety.classifier.ClassifierLayer`).
    """
    labelled = read_labelled(data)  # fail on bad rows before the slow imports
    import torch
    from datasets import Dataset
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    from xinyu.models import hf_dir
    from xinyu.models.loading import pick_device

    source = hf_dir(base)
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    id2label = dict(enumerate(labelled.names))
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        source, num_labels=len(labelled.names), id2label=id2label, label2id={v: k for k, v in id2label.items()},
        dtype=torch.float32,
    )
    model.config.pad_token_id = tokenizer.pad_token_id
    dataset = Dataset.from_dict({"text": labelled.texts, "label": labelled.labels}).map(
        lambda batch: tokenizer(batch["text"], truncation=True, max_length=max_length), batched=True, remove_columns=["text"]
    )
    out_dir = Path(out_dir)
    on_cpu = pick_device(device) == "cpu"
    with atomic_dir(out_dir) as tmp:
        args = TrainingArguments(
            output_dir=str(tmp / "_trainer"), num_train_epochs=epochs, learning_rate=learning_rate,
            per_device_train_batch_size=batch_size, save_strategy="no", report_to="none", seed=seed,
            logging_strategy="epoch", use_cpu=on_cpu, dataloader_pin_memory=not on_cpu,
        )
        trainer = Trainer(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                          data_collator=DataCollatorWithPadding(tokenizer))
        result = trainer.train()
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_json(tmp / "xinyu_classifier.json", {
            "labels": labelled.names, "examples": len(labelled.texts), "base": base, "epochs": epochs,
            "learning_rate": learning_rate, "train_loss": float(result.training_loss),
        })
        import shutil

        shutil.rmtree(tmp / "_trainer", ignore_errors=True)
    log.info("trained a %d-label classifier on %d examples", len(labelled.names), len(labelled.texts))
    return out_dir


def describe(out_dir: str | Path) -> dict:
    """The ``xinyu_classifier.json`` of a trained classifier."""
    return json.loads((Path(out_dir) / "xinyu_classifier.json").read_text(encoding="utf-8"))
