"""The French catalogue is complete and its compiled .mo matches the .po (no stale compilation)."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import cordiale.web.programmes

LOCALE = Path(cordiale.web.programmes.__file__).parent / "locale" / "fr" / "LC_MESSAGES"


def _po_entries(text: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for block in text.split("\n\n"):
        lines = [ln for ln in block.splitlines() if not ln.startswith("#")]
        joined = "\n".join(lines)
        m = re.search(r'^msgid ((?:".*"\n?)+)msgstr ((?:".*"\n?)+)', joined + "\n", re.M)
        ctx = re.search(r'^msgctxt ((?:".*"\n?)+)msgid ', joined + "\n", re.M)
        if m:

            def unquote(chunk: str) -> str:
                return (
                    "".join(re.findall(r'"(.*)"', chunk))
                    .encode()
                    .decode("unicode_escape")
                    .encode("latin-1")
                    .decode()
                )

            # a msgid with a context is stored as "context\x04msgid" (how gettext looks it up)
            prefix = unquote(ctx.group(1)) + "\x04" if ctx else ""
            entries[prefix + unquote(m.group(1))] = unquote(m.group(2))
    entries.pop("", None)
    return entries


def test_french_catalogue_is_complete_and_compiled() -> None:
    po = _po_entries((LOCALE / "django.po").read_text(encoding="utf-8"))
    with (LOCALE / "django.mo").open("rb") as fh:
        mo = gettext.GNUTranslations(fh)
    assert len(po) > 200
    untranslated = [k for k, v in po.items() if not v]
    assert untranslated == []
    for msgid, msgstr in po.items():
        assert mo.gettext(msgid) == msgstr, msgid
