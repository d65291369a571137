"""The README's loss table is the registry's."""

from pathlib import Path

from service.catalogue import TABLE_END, TABLE_START, markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_loss_table_matches_registry() -> None:
    text = README.read_text()
    start = text.index(TABLE_START) + len(TABLE_START)
    end = text.index(TABLE_END)
    assert text[start:end] == markdown_table(), "README loss table is stale: run make generated"
