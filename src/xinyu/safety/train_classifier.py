"""Fine-tune a risk classifier from a labelled file (``xinyu safety train``).

Input: ``.jsonl`` (objects with ``text`` and ``label``; ``level`` is accepted too, so the evaluation sets
format trains directly, and rows with a non-empty ``history`` are skipped) or ``.tsv``/``.csv`` (a header row with
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
    skipped = 0
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        for line, obj in iter_jsonl(path):
            if not isinstance(obj, dict):
                raise DataError("expected a JSON object with 'text' and 'label'", path=path, line=line)
            if obj.get("history"):
                skipped += 1  # a classifier sees one utterance; multi-turn items need their history
                continue
            text = obj.get("text")
            if not isinstance(text, str) or not text.strip():
                raise DataError("missing or empty text", path=path, line=line, field="text")
            rows.append((line, text, _label(obj.get("label", obj.get("level")), path, line)))
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
    if skipped:
        log.info("skipped %d multi-turn rows (a classifier sees one utterance)", skipped)
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
    freeze: str = "none",
) -> Path:
    """Fine-tune ``base`` with a classification head on ``data``; save to ``out_dir``.

    Args:
        data: Labelled file (see module docstring).
        base: Base model argument.
        out_dir: Output directory (written atomically).
        epochs: Training epochs.
        learning_rate: Peak learning rate.
        batch_size: Examples per step.
        max_length: Tokens per utterance.
        seed: Random seed.
        device: ``cpu``, ``cuda`` or ``auto``.
        freeze: ``"none"`` (train everything), ``"embeddings"`` (keep the input embeddings fixed:
            large-vocabulary bases such as Gemma's 262k tokens then train faster), or ``"base"``
            (train only the classification head on the frozen model, a linear probe: forward passes
            only, practical on a CPU).

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
    if freeze not in ("none", "embeddings", "base"):
        raise DataError(f"freeze must be none, embeddings or base, got {freeze!r}")
    if freeze == "embeddings":
        for param in model.get_input_embeddings().parameters():
            param.requires_grad = False
    elif freeze == "base":
        head = {id(p) for name in ("score", "classifier") if hasattr(model, name) for p in getattr(model, name).parameters()}
        for param in model.parameters():
            param.requires_grad = id(param) in head
    out_dir = Path(out_dir)
    if freeze == "base" and hasattr(model, "score") and hasattr(model, "model"):
        # Linear probe on a decoder model: the frozen base gives the same features every epoch, so
        # compute them once and fit the head on them (far cheaper than running the Trainer).
        loss = _fit_probe(model, tokenizer, labelled, epochs=epochs, learning_rate=learning_rate,
                          batch_size=batch_size, max_length=max_length, device=pick_device(device))
        with atomic_dir(out_dir) as tmp:
            model.save_pretrained(tmp)
            tokenizer.save_pretrained(tmp)
            write_json(tmp / "xinyu_classifier.json", {
                "labels": labelled.names, "examples": len(labelled.texts), "base": base, "epochs": epochs,
                "learning_rate": learning_rate, "train_loss": loss, "freeze": freeze,
            })
        return out_dir
    dataset = Dataset.from_dict({"text": labelled.texts, "label": labelled.labels}).map(
        lambda batch: tokenizer(batch["text"], truncation=True, max_length=max_length), batched=True, remove_columns=["text"]
    )
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
            "learning_rate": learning_rate, "train_loss": float(result.training_loss), "freeze": freeze,
        })
        import shutil

        shutil.rmtree(tmp / "_trainer", ignore_errors=True)
    log.info("trained a %d-label classifier on %d examples", len(labelled.names), len(labelled.texts))
    return out_dir


def _fit_probe(model, tokenizer, labelled: LabelledData, *, epochs: float, learning_rate: float, batch_size: int,
               max_length: int, device: str) -> float:
    """Fit ``model.score`` on last-token features of the frozen base; returns the final training loss."""
    import torch
    from tqdm import tqdm

    model.to(device).eval()
    tokenizer.padding_side = "right"
    features = []
    with torch.inference_mode():
        for i in tqdm(range(0, len(labelled.texts), batch_size), desc="features", unit="batch"):
            batch = tokenizer(labelled.texts[i:i + batch_size], return_tensors="pt", padding=True, truncation=True,
                              max_length=max_length).to(device)
            hidden = model.model(**batch).last_hidden_state
            last = batch["attention_mask"].sum(dim=1) - 1  # right padding: the last real token
            features.append(hidden[torch.arange(hidden.shape[0], device=device), last].float().cpu())
    x = torch.cat(features)
    y = torch.tensor(labelled.labels)
    head = model.score
    head.float().to("cpu")
    optimizer = torch.optim.AdamW(head.parameters(), lr=learning_rate, weight_decay=0.01)
    steps = max(1, round(epochs * max(1, len(x) // min(batch_size, len(x)))))
    generator = torch.Generator().manual_seed(0)
    loss = torch.tensor(0.0)
    for _ in range(steps):
        idx = torch.randint(len(x), (min(batch_size, len(x)),), generator=generator)
        loss = torch.nn.functional.cross_entropy(head(x[idx]), y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        final = torch.nn.functional.cross_entropy(head(x), y).item()
    head.to(device)
    log.info("linear probe: %d examples, %d steps, loss %.4f (last batch %.4f)", len(x), steps, final, loss.item())
    return final


def describe(out_dir: str | Path) -> dict:
    """The ``xinyu_classifier.json`` of a trained classifier."""
    return json.loads((Path(out_dir) / "xinyu_classifier.json").read_text(encoding="utf-8"))
