"""Append-only JSONL caches (generations, judge verdicts) that survive interrupted runs.

Each finished item is appended and flushed at once, so an interrupted evaluation keeps everything it
paid for; a torn last line (the process died mid-write) is skipped on the next load. The final
output files are written atomically from the cache.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from xinyu.io import iter_jsonl

log = logging.getLogger(__name__)


class JsonlCache:
    """Records keyed by one field, loaded from and appended to a JSONL file.

    Args:
        path: The cache file (created on first append).
        key: The field that identifies a record (a later record replaces an earlier one).
    """

    def __init__(self, path: str | Path, key: str = "id") -> None:
        self.path = Path(path)
        self.key = key
        self.records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.skipped = 0
        if self.path.is_file():
            for _, obj in iter_jsonl(self.path, skip_bad=True, on_bad=self._bad):
                if isinstance(obj, dict) and isinstance(obj.get(key), str):
                    self.records[obj[key]] = obj
            if self.skipped:
                log.warning("%s: skipped %d unreadable cache line(s) (an interrupted write)", self.path, self.skipped)

    def _bad(self, _err: Exception) -> None:
        self.skipped += 1

    def __contains__(self, key: str) -> bool:
        return key in self.records

    def __len__(self) -> int:
        return len(self.records)

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached record for ``key``, if any."""
        return self.records.get(key)

    def append(self, record: dict[str, Any]) -> None:
        """Store ``record`` and append it to the file (thread-safe, flushed immediately)."""
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a+b") as handle:
                handle.seek(0, 2)
                if handle.tell() > 0:
                    handle.seek(-1, 2)
                    if handle.read(1) != b"\n":
                        handle.write(b"\n")  # end a torn line so this record stays readable
                handle.write(line.encode("utf-8"))
                handle.flush()
            self.records[record[self.key]] = record
