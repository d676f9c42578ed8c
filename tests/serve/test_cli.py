from datetime import timedelta

import pytest
from typer.testing import CliRunner

from xinyu.cli import app
from xinyu.errors import XinyuError
from xinyu.serve.cli import parse_duration
from xinyu.serve.store import SessionRow, Store, utcnow


def test_parse_duration():
    assert parse_duration("30d") == timedelta(days=30)
    assert parse_duration(" 12h ") == timedelta(hours=12)
    assert parse_duration("2w") == timedelta(weeks=2)
    with pytest.raises(XinyuError, match="expected a number and a unit"):
        parse_duration("30 days")


def test_store_commands(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    store = Store(url, key="")
    store.add_message("old", "user", "旧的")
    store.add_message("new", "user", "新的")
    with store._sessions.begin() as db:
        db.get(SessionRow, "old").updated_at = utcnow() - timedelta(days=31)
    runner = CliRunner()
    result = runner.invoke(app, ["store", "purge", "--older-than", "30d", "--store", url])
    assert result.exit_code == 0, result.output
    assert "deleted 1 sessions, 1 messages" in result.output
    assert [s.id for s in store.list_sessions()] == ["new"]

    out = tmp_path / "pairs.jsonl"
    result = runner.invoke(app, ["store", "export-feedback", "-o", str(out), "--store", url])
    assert result.exit_code == 0 and "wrote 0 preference pairs" in result.output and out.read_text() == ""

    result = runner.invoke(app, ["store", "keygen"])
    assert result.exit_code == 0 and Store(f"sqlite:///{tmp_path / 'k.db'}", key=result.output.strip()).encrypting
