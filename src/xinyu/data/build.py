"""Build a dataset directory from a recipe: import → clean → split → stats → contamination → report.

``data/<name>/`` is written atomically (built under a temporary name and swapped in only when
complete, so a failure leaves the previous build untouched) and holds exactly::

    train.jsonl  val.jsonl  test.jsonl  [persona.jsonl]  stats.json  contamination.json
    manifest.json  report.md  plots/*.png

Dialogues stream through the pipeline; what stays in memory is per-dialogue bookkeeping (ids, group
keys, digests, MinHash signatures, lengths), not text.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xinyu import __version__
from xinyu.data.clean import Cleaner, CleanReport
from xinyu.data.formats import ReadReport, read
from xinyu.data.recipe import KNOWN_LICENSES, Recipe, SourceConfig, load_recipe, resolve_path
from xinyu.data.schema import Dialogue, dialogue_problems
from xinyu.data.split import SPLITS, SplitPlan
from xinyu.errors import DataError
from xinyu.io import atomic_dir, write_json, write_text

log = logging.getLogger(__name__)


def sha256_path(path: Path) -> str:
    """SHA-256 of a file, or of a directory's files (relative path and bytes, in sorted order)."""
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode("utf-8") + b"\0")
        with open(file, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def _share(seed: int, dialogue_id: str) -> float:
    # A stable pseudo-random number in [0, 1) per (seed, id): sampling does not depend on order.
    h = hashlib.blake2b(f"{seed}:{dialogue_id}".encode(), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2**64


def _tagged(stream: Iterator[Dialogue], tags: list[str]) -> Iterator[Dialogue]:
    for d in stream:
        if tags:
            style = list((d.meta or {}).get("style") or [])
            d.meta = {**(d.meta or {}), "style": style + [t for t in tags if t not in style]}
        yield d


class _SourceRun:
    """Counts for one source."""

    def __init__(self, spec: SourceConfig, index: int, label: str) -> None:
        self.spec = spec
        self.index = index
        self.label = label
        self.read_report = ReadReport()
        self.clean_report = CleanReport()
        self.imported = 0
        self.excluded = 0
        self.filtered_topic = 0
        self.sampled_out = 0
        self.kept = 0
        self.path: Path | None = None
        self.sha256: str | None = None

    def to_dict(self) -> dict[str, Any]:
        spec = self.spec
        fmt = self.read_report.format or spec.format or spec.builtin
        return {
            "name": self.label,
            "path": spec.path,
            "builtin": spec.builtin,
            "format": fmt,
            "license": spec.license
            or KNOWN_LICENSES.get(fmt or "", None)
            or KNOWN_LICENSES.get(spec.builtin or ""),
            "sha256": self.sha256,
            "weight": spec.weight,
            "tags": spec.tags,
            "counts": {
                "records": self.read_report.records,
                "bad_records_skipped": self.read_report.bad,
                "imported": self.imported,
                "excluded_files": self.excluded,
                "filtered_by_topic": self.filtered_topic,
                "dropped_by_cleaning": sum(self.clean_report.dropped.values()),
                "sampled_out_by_weight": self.sampled_out,
                "kept": self.kept,
            },
            "read": self.read_report.to_dict(),
            "cleaning": self.clean_report.to_dict(),
        }


def _source_stream(run: _SourceRun, recipe: Recipe, recipe_dir: Path | None) -> Iterator[Dialogue]:
    spec = run.spec
    if spec.builtin == "sample":
        from xinyu.data.sample import iter_sample_corpus, sample_corpus_dir, sample_files

        run.path = sample_corpus_dir()
        run.read_report.format = "dialogue"
        run.sha256 = (
            hashlib.sha256("".join(sha256_path(f) for f in sample_files()).encode()).hexdigest()
            if sample_files()
            else None
        )
        stream: Iterator[Dialogue] = iter_sample_corpus()
    elif spec.builtin == "persona":
        from xinyu.data.persona import generate_persona

        run.read_report.format = "persona"
        stream = iter(generate_persona(recipe.persona))
    else:
        run.path = resolve_path(spec.path or "", recipe_dir, f"sources.{run.index}.path")
        run.sha256 = sha256_path(run.path)
        stream = read(
            run.path,
            spec.format,
            skip_bad=spec.skip_bad,
            report=run.read_report,
            source=spec.name,
            dataset=spec.dataset,
        )
    for d in _tagged(stream, spec.tags):
        if spec.limit is not None and run.imported >= spec.limit:
            break
        run.imported += 1
        if spec.builtin:
            run.read_report.records += 1
        if spec.exclude_files and any(
            fnmatch.fnmatch(str((d.meta or {}).get("file", "")), pat) for pat in spec.exclude_files
        ):
            run.excluded += 1
            continue
        if spec.topics is not None and (d.meta or {}).get("topic") not in spec.topics:
            run.filtered_topic += 1
            continue
        yield d


def _labels(recipe: Recipe, recipe_dir: Path | None) -> list[str]:
    """Display names of the sources (name, builtin, format — detected if need be), made unique."""
    from xinyu.data.formats import detect_format
    from xinyu.errors import XinyuError

    labels = []
    for i, spec in enumerate(recipe.sources):
        label = spec.name or spec.builtin or spec.format
        if label is None:
            try:
                label = detect_format(resolve_path(spec.path or "", recipe_dir, f"sources.{i}.path"))
            except XinyuError:
                label = Path(spec.path or "").name  # the build reports the real problem when it reads
        labels.append(label)
    out: list[str] = []
    for i, (spec, label) in enumerate(zip(recipe.sources, labels, strict=True)):
        if labels.count(label) > 1 and labels.index(label) != i:
            label = f"{label} ({Path(spec.path).name})" if spec.path else f"{label} #{i}"
            while label in out:
                label += f" #{i}"
        out.append(label)
    return out


def _weight(recipe: Recipe, spec: SourceConfig, d: Dialogue) -> float:
    w = spec.weight
    for tag in (d.meta or {}).get("style") or []:
        w *= recipe.tag_weights.get(tag, 1.0)
    return w


def _copies(weight: float, seed: int, dialogue_id: str, split: str) -> int:
    """How many times a dialogue is written.

    Weights above 1 repeat it in train only (copies in val or test would leak); the fractional part is a
    seeded coin flip per dialogue.
    """
    if split != "train" or weight <= 1.0:
        return 1
    return int(weight) + (1 if _share(seed + 1, dialogue_id) < weight - int(weight) else 0)


def _chain_splits(
    pooled: Iterator[Dialogue], persona: list[Dialogue], plan: SplitPlan, progress: bool
) -> Iterator[tuple[Dialogue, str]]:
    """Each pooled dialogue with its split, then the persona dialogues, which go to train only."""
    for d in _progress(pooled, "split", progress):
        yield d, plan.split_of(d)
    for d in persona:
        yield d, "train"


def _progress(iterable: Iterator[Dialogue], desc: str, enabled: bool) -> Iterator[Dialogue]:
    if not enabled:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, unit=" dlg", leave=False, mininterval=0.5, disable=None)


def build_dataset(
    recipe: str | Path | Recipe,
    overrides: list[str] | tuple[str, ...] = (),
    out_dir: str | Path | None = None,
    progress: bool = False,
) -> Path:
    """Run a data recipe and write ``<out_dir>/<name>/`` atomically.

    Args:
        recipe: A recipe YAML path or a :class:`Recipe`.
        overrides: ``key.path=value`` overrides (only with a path).
        out_dir: The dataset directory to write (default: ``recipe.out_dir / recipe.name``).
        progress: Show progress bars on stderr.

    Returns:
        The dataset directory.
    """
    recipe_dir: Path | None = None
    if not isinstance(recipe, Recipe):
        recipe_dir = Path(recipe).resolve().parent
        recipe = load_recipe(recipe, overrides)
    elif overrides:
        raise ValueError("overrides apply to a recipe file; change the Recipe object instead")
    target = Path(out_dir) if out_dir else Path(recipe.out_dir) / recipe.name
    started = time.time()
    with atomic_dir(target) as tmp:
        _build_into(tmp, recipe, recipe_dir, progress)
        manifest_path = tmp / "manifest.json"
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["build_seconds"] = round(time.time() - started, 2)
        write_json(manifest_path, manifest)
    return target


def _clean_or_check(cleaner: Cleaner, run: _SourceRun, d: Dialogue) -> Dialogue | None:
    """Clean a corpus dialogue; generated data (persona) is only checked against the strict schema."""
    spec = run.spec
    if spec.clean if spec.clean is not None else spec.builtin != "persona":
        return cleaner.clean(d)
    run.clean_report.seen += 1
    if dialogue_problems(d.messages, strict=True):
        run.clean_report.drop(d.id, "invalid")
        return None
    run.clean_report.kept += 1
    return d


class _Pool:
    """Stage 1: every source read, cleaned, sampled and written to one pooled file (persona aside)."""

    def __init__(self, recipe: Recipe, recipe_dir: Path | None, path: Path, progress: bool) -> None:
        self.path = path
        self.plan = SplitPlan(recipe.split)
        self.runs = [
            _SourceRun(spec, i, label)
            for i, (spec, label) in enumerate(zip(recipe.sources, _labels(recipe, recipe_dir), strict=True))
        ]
        self.weights: dict[str, float] = {}
        self.persona: list[Dialogue] = []
        cleaner = Cleaner(recipe.clean)  # one cleaner: duplicates are found across sources too
        seen_ids: dict[str, str] = {}
        with open(path, "w", encoding="utf-8") as pool:
            for run in self.runs:
                cleaner.report = run.clean_report
                for d in _progress(_source_stream(run, recipe, recipe_dir), run.label, progress):
                    kept = _clean_or_check(cleaner, run, d)
                    if kept is None:
                        continue
                    w = _weight(recipe, run.spec, kept)
                    if w < 1.0 and _share(recipe.seed, kept.id) >= w:
                        run.sampled_out += 1
                        continue
                    if kept.id in seen_ids:
                        raise DataError(
                            f"dialogue id {kept.id!r} comes from sources '{seen_ids[kept.id]}' and "
                            f"'{run.label}'; give one of them a distinct `name:`",
                            field=f"sources.{run.index}.name",
                        )
                    seen_ids[kept.id] = run.label
                    run.kept += 1
                    if w > 1.0:
                        self.weights[kept.id] = w
                    if run.spec.builtin == "persona":
                        self.persona.append(kept)  # persona data goes to train only, never to val/test
                        continue
                    self.plan.add(kept)
                    pool.write(json.dumps(kept.to_dict(), ensure_ascii=False) + "\n")
        for run in self.runs:
            if run.read_report.bad:
                log.warning(
                    "%s: skipped %d bad records (first: %s)",
                    run.label,
                    run.read_report.bad,
                    "; ".join(run.read_report.bad_examples[:3]),
                )


def _write_splits(tmp: Path, pool: _Pool, recipe: Recipe, tokenizer: Any, progress: bool) -> dict[str, Any]:
    """Stage 2: the pooled dialogues (and persona) into train/val/test, with statistics per split."""
    from xinyu.data.formats import dialogue as dialogue_format
    from xinyu.data.schema import write_dialogues
    from xinyu.data.stats import CorpusStats

    stats = {s: CorpusStats(tokenizer, recipe.stats.batch_size) for s in SPLITS}
    counts: Counter[str] = Counter()
    upsampled = 0
    with (
        open(tmp / "train.jsonl", "w", encoding="utf-8") as train,
        open(tmp / "val.jsonl", "w", encoding="utf-8") as val,
        open(tmp / "test.jsonl", "w", encoding="utf-8") as test,
    ):
        handles = {"train": train, "val": val, "test": test}
        for d, split in _chain_splits(dialogue_format.read(pool.path), pool.persona, pool.plan, progress):
            for k in range(_copies(pool.weights.get(d.id, 1.0), recipe.seed, d.id, split)):
                item = (
                    d
                    if k == 0
                    else Dialogue(f"{d.id}#{k}", d.source, d.messages, {**d.meta, "upsampled_copy": k})
                )
                handles[split].write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
                stats[split].add(item)
                counts[split] += 1
                upsampled += k > 0
    for s in stats.values():
        s.flush()
    persona_stats = None
    if pool.persona:
        write_dialogues(tmp / "persona.jsonl", pool.persona)
        persona_stats = CorpusStats(tokenizer, recipe.stats.batch_size).add_all(pool.persona)
    return {"stats": stats, "persona_stats": persona_stats, "counts": counts, "upsampled": upsampled}


def _contamination(tmp: Path, recipe: Recipe, recipe_dir: Path | None) -> dict[str, Any]:
    """Stage 3: test and val against train, and each external evaluation set against train."""
    from xinyu.data import contamination
    from xinyu.data.formats import dialogue as dialogue_format

    cc = recipe.contamination

    def train_stream() -> Iterator[Dialogue]:
        return (d for d in dialogue_format.read(tmp / "train.jsonl") if "upsampled_copy" not in d.meta)

    def check(targets: Iterator[Dialogue], name: str) -> dict[str, Any]:
        return contamination.check(
            targets, train_stream(), n=cc.ngram, max_df=cc.max_df, leak_fraction=cc.leak_fraction, name=name
        ).to_dict()

    doc: dict[str, Any] = {"ngram_chars": cc.ngram, "max_df": cc.max_df, "leak_fraction": cc.leak_fraction}
    for split in ("test", "val"):
        doc[f"{split}_vs_train"] = check(dialogue_format.read(tmp / f"{split}.jsonl"), f"{split}_vs_train")
    doc["external"] = []
    for i, ext in enumerate(cc.external):
        ext_path = resolve_path(ext.path, recipe_dir, f"contamination.external.{i}.path")
        result = check(read(ext_path, ext.format, dataset=ext.dataset), ext.name)
        doc["external"].append({**result, "path": ext.path, "sha256": sha256_path(ext_path)})
    return doc


def _build_into(tmp: Path, recipe: Recipe, recipe_dir: Path | None, progress: bool) -> None:
    from xinyu.data import report
    from xinyu.data.stats import load_stats_tokenizer

    tokenizer = load_stats_tokenizer(recipe.stats.tokenizer_name())  # fail before the long part
    work = tmp / ".work"
    work.mkdir()
    pool = _Pool(recipe, recipe_dir, work / "pooled.jsonl", progress)
    splits = _write_splits(tmp, pool, recipe, tokenizer, progress)
    contamination_doc = _contamination(tmp, recipe, recipe_dir)
    write_json(tmp / "contamination.json", contamination_doc)

    cleaning = CleanReport()
    for run in pool.runs:
        cleaning.merge(run.clean_report)
    persona_stats = splits["persona_stats"]
    stats_doc = {
        "name": recipe.name,
        "splits": {s: splits["stats"][s].summary() for s in SPLITS},
        "persona": persona_stats.summary() if persona_stats else None,
        "split": {
            "counts": {s: splits["counts"].get(s, 0) for s in SPLITS},
            "groups": pool.plan.n_groups,
            "ratios": list(recipe.split.ratios),
            "seed": recipe.split.seed,
            "stratify": recipe.split.stratify,
            "upsampled_copies_in_train": splits["upsampled"],
            "persona_in_train_only": len(pool.persona),
        },
        "cleaning": cleaning.to_dict(),
        "sources": {run.label: run.to_dict()["counts"] for run in pool.runs},
        "tokenizer": recipe.stats.tokenizer_name(),
    }
    write_json(tmp / "stats.json", stats_doc)

    plots: list[Path] = []
    if recipe.stats.plots:
        from xinyu.data.plots import write_plots

        all_stats = {**splits["stats"], **({"persona": persona_stats} if persona_stats else {})}
        plots = write_plots(tmp / "plots", all_stats, cleaning.to_dict())
    shutil.rmtree(work)
    sources = [r.to_dict() for r in pool.runs]
    write_text(
        tmp / "report.md",
        report.render_report(
            recipe, stats_doc, contamination_doc, sources, [p.relative_to(tmp).as_posix() for p in plots]
        ),
    )
    outputs = sorted(p for p in tmp.rglob("*") if p.is_file() and p.name != "manifest.json")
    for source in sources:
        source.pop("cleaning", None)  # per-source cleaning details live in stats.json
    manifest = {
        "name": recipe.name,
        "xinyu_version": __version__,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seed": recipe.seed,
        "split_seed": recipe.split.seed,
        "recipe": recipe.model_dump(mode="json"),
        "sources": sources,
        "outputs": {p.relative_to(tmp).as_posix(): sha256_path(p) for p in outputs},
        "persona": {
            "count": len(pool.persona),
            "file": "persona.jsonl" if pool.persona else None,
            "placement": "appended to train.jsonl only (never val/test); persona.jsonl repeats them "
            "for inspection — do not add it to training a second time",
        },
    }
    write_json(tmp / "manifest.json", manifest)
