"""The README's loss table is the registry's."""

from pathlib import Path

from service.catalogue import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_loss_table_matches_registry() -> None:
    text = README.read_text()
    start = text.index("<!-- losses:start -->\n") + len("<!-- losses:start -->\n")
    end = text.index("<!-- losses:end -->")
    assert text[start:end] == markdown_table(), (
        "README loss table is stale: replace it with service.catalogue.markdown_table()"
    )
