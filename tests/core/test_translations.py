"""Every Russian catalogue is complete, and its compiled .mo says what the .po says.

The interface is Russian by default: an untranslated or fuzzy entry shows English
to every user, and a .po edited without `make messages` compiling it changes
nothing at all.
"""

import ast
import gettext
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = sorted(
    p for p in ROOT.glob("**/locale/ru/LC_MESSAGES/django.po") if ".venv" not in p.parts
)


def entries(path: Path) -> list[dict]:
    """Return the entries of a .po file: flags, msgid, msgid_plural, msgstr[n]."""
    found, current, key = [], None, None
    for raw in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        line = raw.strip()
        if not line or line.startswith("#~"):
            if current is not None:
                found.append(current)
            current, key = None, None
            continue
        if current is None:
            current = {"flags": set(), "msgstr": {}}
        if line.startswith("#,"):
            current["flags"] |= {f.strip() for f in line[2:].split(",")}
        elif line.startswith("#"):
            continue
        elif line.startswith('"'):
            text = ast.literal_eval(line)
            if key[0] == "msgstr":
                current["msgstr"][key[1]] += text
            else:
                current[key[0]] += text
        else:
            word, _, value = line.partition(" ")
            text = ast.literal_eval(value)
            if word.startswith("msgstr"):
                index = int(word[7:-1]) if "[" in word else 0
                key = ("msgstr", index)
                current["msgstr"][index] = text
            else:
                key = (word, None)
                current[word] = text
    return [e for e in found if "msgid" in e]


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_russian_entry_is_translated_and_compiled(path):
    messages = [e for e in entries(path) if e["msgid"]]
    assert messages, "no entries read"
    untranslated = [e["msgid"] for e in messages if not all(e["msgstr"].values())]
    fuzzy = [e["msgid"] for e in messages if "fuzzy" in e["flags"]]
    assert untranslated == [], f"untranslated in {path.name}: {untranslated[:5]}"
    assert fuzzy == [], f"fuzzy (not compiled) in {path.name}: {fuzzy[:5]}"
    with path.with_suffix(".mo").open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    stale = []
    for entry in messages:
        msgid = entry["msgid"]
        if "msgctxt" in entry:
            msgid = f"{entry['msgctxt']}\x04{msgid}"
        if "msgid_plural" in entry:
            got = compiled._catalog.get((msgid, 0))
        else:
            got = compiled._catalog.get(msgid)
        if got != entry["msgstr"][0]:
            stale.append(entry["msgid"])
    assert stale == [], f".mo older than {path.name}; run `make messages`: {stale[:5]}"
