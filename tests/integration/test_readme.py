"""The README's library example runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    """The ```python blocks of the README."""
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


class TestReadme:
    def test_library_example_books_and_uses_a_credit(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The example creates a business on SQLite, books a slot and is left with nine credits."""
        (block,) = python_blocks()
        monkeypatch.chdir(tmp_path)
        exec(compile(block, str(README), "exec"), {"__name__": "readme_example"})  # noqa: S102  # our own README
        assert capsys.readouterr().out.strip() == "9"
        assert (tmp_path / "example.db").exists()
