"""Every text a page, mail or document shows is translated into Dutch and French.

The msgids are extracted from the sources exactly as `make i18n` does (babel.cfg); a
msgid missing from a catalog, or present with an empty translation, is a page that
switches language halfway through a sentence.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "streamsvc" / "web" / "locale"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "--quiet", "extract", "-F",
         "babel.cfg", "-o", str(pot), "."],
        cwd=ROOT, check=True,
    )  # fmt: skip
    with pot.open("rb") as source:
        return {_key(message.id) for message in read_po(source) if message.id}


def _key(msgid: str | Sequence[str]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_every_msgid_is_translated(extracted: set[str], language: str) -> None:
    with (LOCALE / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalog = read_po(source, locale=language)
    translated = {
        _key(message.id)
        for message in catalog
        if message.id and not message.fuzzy and all(_strings(message.string))
    }
    missing = sorted(extracted - translated)
    assert not missing, (
        f"{len(missing)} msgids without a {language} translation "
        f"(make i18n, then translate): {missing[:20]}"
    )


def _strings(value: str | Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ("",)
    return (value,) if isinstance(value, str) else tuple(value)
