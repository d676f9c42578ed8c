"""Dataset builds from recipes: outputs, counts, determinism, atomicity, recipe errors, shipped configs."""

from __future__ import annotations

import hashlib
import json
from itertools import pairwise
from pathlib import Path

import pytest
import yaml

from xinyu.data.build import build_dataset
from xinyu.data.clean import ROLE_PREFIXES
from xinyu.data.recipe import load_recipe
from xinyu.data.schema import read_dialogues
from xinyu.errors import ConfigError, DataError

REPO = Path(__file__).resolve().parents[2]
FIX = REPO / "tests" / "fixtures" / "data"
EXPECTED_FILES = {
    "train.jsonl",
    "val.jsonl",
    "test.jsonl",
    "persona.jsonl",
    "stats.json",
    "contamination.json",
    "manifest.json",
    "report.md",
}


def write_recipe(tmp_path: Path, **changes) -> Path:
    recipe = {
        "name": "fixtures",
        "sources": [
            {"path": str(FIX / "smile"), "format": "smile"},
            {"path": str(FIX / "cpsycound")},
            {"path": str(FIX / "emollm"), "tags": ["emollm"], "exclude_files": ["self_cognition*"]},
            {"path": str(FIX / "psyqa.json")},
            {"path": str(FIX / "openai.jsonl")},
            {"builtin": "persona"},
        ],
        "persona": {"n": 20},
        "split": {"ratios": [0.6, 0.2, 0.2], "seed": 3},
        "stats": {"tokenizer": "none"},
        "contamination": {"external": [{"name": "cpsycoune", "path": str(FIX / "cpsycoune")}]},
    }
    recipe.update(changes)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_clean_dataset(out: Path) -> dict:
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    splits = {s: read_dialogues(out / f"{s}.jsonl", strict=True) for s in ("train", "val", "test")}
    for s, dialogues in splits.items():
        assert stats["split"]["counts"][s] == len(dialogues)
        for d in dialogues:
            roles = [m["role"] for m in d.messages if m["role"] != "system"]
            assert all(a != b for a, b in pairwise(roles)), d.id
            assert not any(
                m["content"].startswith(tuple(f"{p}：" for p in ROLE_PREFIXES)) for m in d.messages
            )
    ids = [d.id for ds in splits.values() for d in ds]
    assert len(ids) == len(set(ids))
    assert not any(d.source == "persona" for s in ("val", "test") for d in splits[s])
    # every kept dialogue lands in exactly one split (persona in train)
    kept = sum(v["kept"] for v in stats["sources"].values())
    assert kept + stats["split"]["upsampled_copies_in_train"] == sum(stats["split"]["counts"].values())
    for name, counts in stats["sources"].items():
        left_out = counts["excluded_files"] + counts["filtered_by_topic"] + counts["sampled_out_by_weight"]
        assert counts["imported"] == counts["kept"] + counts["dropped_by_cleaning"] + left_out, name
    report = (out / "report.md").read_text(encoding="utf-8")
    for link in [line.split("(")[1].rstrip(")") for line in report.splitlines() if line.startswith("![")]:
        assert (out / link).is_file()
    assert report.count("![") >= 5
    return stats


def test_build_outputs_counts_and_manifest(tmp_path):
    out = build_dataset(write_recipe(tmp_path), out_dir=tmp_path / "ds")
    files = {p.name for p in out.iterdir() if p.is_file()}
    assert files == EXPECTED_FILES and (out / "plots").is_dir()
    assert not any(p.name.startswith(".") for p in out.rglob("*"))
    stats = assert_clean_dataset(out)
    assert stats["split"]["persona_in_train_only"] == 20
    persona = read_dialogues(out / "persona.jsonl", strict=True)
    train_ids = {d.id for d in read_dialogues(out / "train.jsonl")}
    assert len(persona) == 20 and {d.id for d in persona} <= train_ids
    assert stats["sources"]["emollm"]["excluded_files"] == 1
    cleaning = stats["cleaning"]
    assert cleaning["rules"]["strip_role_prefixes"] >= 1 and cleaning["rules"]["merge_same_role"] >= 1
    assert cleaning["dropped"]["empty"] == 1  # the empty xtuner conversation
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["recipe"]["name"] == "fixtures" and manifest["split_seed"] == 3
    smile = manifest["sources"][0]
    assert smile["format"] == "smile" and smile["license"] == "CC0-1.0" and len(smile["sha256"]) == 64
    assert manifest["outputs"]["train.jsonl"] == sha(out / "train.jsonl")
    assert manifest["outputs"]["report.md"] == sha(out / "report.md")
    assert any(k.startswith("plots/") for k in manifest["outputs"])
    assert "train.jsonl" in manifest["persona"]["placement"]
    contamination = json.loads((out / "contamination.json").read_text(encoding="utf-8"))
    assert (
        contamination["external"][0]["name"] == "cpsycoune"
        and contamination["external"][0]["targets_checked"] == 2
    )
    assert {"test_vs_train", "val_vs_train"} <= set(contamination)


def test_build_is_deterministic(tmp_path):
    recipe = write_recipe(tmp_path, stats={"tokenizer": "none", "plots": False})
    a = build_dataset(recipe, out_dir=tmp_path / "a")
    b = build_dataset(recipe, out_dir=tmp_path / "b")
    for name in (
        "train.jsonl",
        "val.jsonl",
        "test.jsonl",
        "persona.jsonl",
        "stats.json",
        "contamination.json",
    ):
        assert sha(a / name) == sha(b / name), name
    c = build_dataset(recipe, ["split.seed=4"], out_dir=tmp_path / "c")
    assert sha(a / "test.jsonl") != sha(c / "test.jsonl")


def test_failed_build_leaves_previous_dataset_intact(tmp_path):
    out = build_dataset(write_recipe(tmp_path), out_dir=tmp_path / "ds")
    before = {p.name: sha(p) for p in out.iterdir() if p.is_file()}
    broken = write_recipe(
        tmp_path,
        sources=[{"path": str(FIX / "smile")}, {"path": str(FIX / "smile_bad"), "name": "smile_bad"}],
    )
    with pytest.raises(DataError, match=r"2\.json, line 3"):
        build_dataset(broken, out_dir=tmp_path / "ds")
    assert {p.name: sha(p) for p in out.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    with pytest.raises(DataError):
        build_dataset(broken, out_dir=tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()
    # with skip_bad the same source builds, and the skipped files are counted
    ok = write_recipe(
        tmp_path,
        sources=[
            {"path": str(FIX / "smile")},
            {"path": str(FIX / "smile_bad"), "skip_bad": True, "name": "smile_bad"},
        ],
    )
    out = build_dataset(ok, out_dir=tmp_path / "ok")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["sources"][1]["counts"]["bad_records_skipped"] == 2


def test_weights_topics_and_limits(tmp_path):
    recipe = write_recipe(
        tmp_path,
        sources=[
            {"path": str(FIX / "cpsycoune"), "topics": ["family"], "weight": 3},
            {"path": str(FIX / "smile"), "limit": 2},
            {"path": str(FIX / "psyqa.json"), "weight": 0.0},
        ],
        split={"ratios": [1.0, 0.0, 0.0]},
        contamination={},
    )
    out = build_dataset(recipe, out_dir=tmp_path / "w")
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    src = stats["sources"]
    assert src["cpsycoune"]["filtered_by_topic"] == 1 and src["cpsycoune"]["kept"] == 1
    assert src["smile"]["imported"] == 2
    assert src["psyqa"]["sampled_out_by_weight"] == 3 and src["psyqa"]["kept"] == 0
    train = read_dialogues(out / "train.jsonl")
    family = [d for d in train if d.id.startswith("cpsycoune-family-2")]
    assert sorted(d.id for d in family) == [
        "cpsycoune-family-2",
        "cpsycoune-family-2#1",
        "cpsycoune-family-2#2",
    ]
    assert stats["split"]["upsampled_copies_in_train"] == 2


def test_duplicate_ids_across_sources_need_a_name(tmp_path):
    recipe = write_recipe(
        tmp_path,
        sources=[{"path": str(FIX / "smile")}, {"path": str(FIX / "smile" / "1.json")}],
        clean={"exact_dedup": False, "near_dedup": False},
    )
    with pytest.raises(DataError, match="give one of them a distinct `name:`"):
        build_dataset(recipe, out_dir=tmp_path / "dup")
    recipe = write_recipe(
        tmp_path,
        sources=[
            {"path": str(FIX / "smile")},
            {"path": str(FIX / "smile" / "1.json"), "name": "smile_again"},
        ],
        clean={"exact_dedup": False, "near_dedup": False},
    )
    assert build_dataset(recipe, out_dir=tmp_path / "dup").is_dir()


def test_recipe_errors_name_the_key(tmp_path):
    recipe = write_recipe(tmp_path)
    with pytest.raises(ConfigError, match=r"split\.ratio: unknown key"):
        load_recipe(recipe, ["split.ratio=0.5"])
    with pytest.raises(ConfigError, match=r"sources\.0\.topics"):
        load_recipe(recipe, ["sources.0.topics=[nope]"])
    with pytest.raises(ConfigError, match=r"sources\.0\.format"):
        load_recipe(recipe, ["sources.0.format=nope"])
    with pytest.raises(ConfigError, match="ratios"):
        load_recipe(recipe, ["split.ratios=[0.5,0.1]"])
    bad_path = write_recipe(tmp_path, sources=[{"path": "no/such/corpus"}])
    with pytest.raises(ConfigError, match=r"sources\.0\.path: path not found"):
        build_dataset(bad_path, out_dir=tmp_path / "x")
    both = write_recipe(tmp_path, sources=[{"path": "a", "builtin": "persona"}])
    with pytest.raises(ConfigError, match="exactly one of 'path' or 'builtin'"):
        load_recipe(both)


@pytest.mark.parametrize("config", sorted((REPO / "configs" / "data").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_recipes_validate(config):
    recipe = load_recipe(config)
    assert recipe.sources and recipe.name == config.stem


def test_build_shared_samples(shared_datasets, tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    out = build_dataset(
        REPO / "configs" / "data" / "shared_samples.yaml",
        ["stats.tokenizer=none"],
        out_dir=tmp_path / "shared_samples",
    )
    stats = assert_clean_dataset(out)
    src = stats["sources"]
    assert src["smile"]["imported"] == 300 and src["cpsycound"]["imported"] == 308
    assert src["emollm"]["excluded_files"] == 170  # the two self-cognition files
    assert all(stats["split"]["counts"][s] > 100 for s in ("train", "val", "test"))
    assert (out / "plots" / "turns_per_dialogue.png").is_file()
    contamination = json.loads((out / "contamination.json").read_text(encoding="utf-8"))
    assert contamination["external"][0]["targets_checked"] == 1


def test_build_demo_recipe_on_the_sample_corpus(tmp_path, monkeypatch):
    from xinyu.data.sample import sample_files

    if not sample_files():
        pytest.skip("the sample corpus is not written yet")
    monkeypatch.chdir(REPO)
    out = build_dataset(
        REPO / "configs" / "data" / "demo.yaml", ["stats.tokenizer=none"], out_dir=tmp_path / "demo"
    )
    stats = assert_clean_dataset(out)
    assert stats["split"]["stratify"] == "topic" and stats["split"]["persona_in_train_only"] == 120
