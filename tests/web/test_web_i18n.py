"""The web message catalogues: complete in both languages, in step with the sources, compiled."""

from __future__ import annotations

import gettext

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from starlette.requests import Request

from fangxun.web import i18n

WEB_DIR = i18n.WEB_DIR


#: A message's key: its msgid, or ``context\x04msgid`` when it has a context (msgctxt), as in a
#: compiled catalogue.
def _key(msgid: str, context: str | None) -> str:
    return f"{context}\x04{msgid}" if context else msgid


def _source_msgids() -> set[str]:
    """Every message key marked in the web sources, extracted with the project's babel.cfg."""
    with (WEB_DIR / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    ids: set[str] = set()
    for _filename, _lineno, message, _comments, context in extract_from_dir(
        WEB_DIR, method_map, options_map
    ):
        ids.add(_key(message if isinstance(message, str) else message[0], context))
    return ids


def _catalog(lang: str) -> Catalog:
    path = i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as fh:
        return read_po(fh, locale=lang)


@pytest.fixture(scope="module")
def source_ids() -> set[str]:
    ids = _source_msgids()
    # Sanity: the extractor found both Python (N_) and template (_()) strings.
    assert "Map" in ids and "Log in" in ids and "Wrong username or password." in ids
    return ids


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_every_source_msgid_is_translated(lang: str, source_ids: set[str]) -> None:
    catalog = _catalog(lang)
    problems = []
    for key in sorted(source_ids):
        context, _sep, msgid = key.rpartition("\x04")
        message = catalog.get(msgid, context=context or None)
        if message is None:
            problems.append(f"missing: {msgid!r}")
        elif not message.string:
            problems.append(f"untranslated: {msgid!r}")
        elif message.fuzzy:
            problems.append(f"fuzzy: {msgid!r}")
    stale = sorted(
        _key(m.id, m.context)
        for m in catalog
        if m.id and isinstance(m.id, str) and _key(m.id, m.context) not in source_ids
    )
    problems += [f"no longer in the sources: {s!r}" for s in stale]
    assert not problems, (
        f"{lang} catalogue out of step (run pybabel extract/update, translate, compile):\n"
        + "\n".join(problems)
    )


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_placeholders_match(lang: str) -> None:
    """Babel's checkers: every %(name)s of a msgid is in its translation, and vice versa."""
    errors = [
        f"{message.id!r}: {'; '.join(str(e) for e in errs)}"
        for message, errs in _catalog(lang).check()
    ]
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_compiled_mo_matches_po(lang: str) -> None:
    """The .mo the app loads says exactly what the .po says (pybabel compile was run)."""
    mo = i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.mo"
    assert mo.is_file(), f"{mo} missing: run pybabel compile -d {i18n.LOCALE_DIR}"
    with mo.open("rb") as fh:
        compiled = gettext.GNUTranslations(fh)
    po = {_key(m.id, m.context): m.string for m in _catalog(lang) if isinstance(m.id, str) and m.id}
    stale = {
        key: (text, compiled._catalog.get(key))  # type: ignore[attr-defined]
        for key, text in po.items()
        if compiled._catalog.get(key) != text  # type: ignore[attr-defined]
    }
    assert not stale, f"{mo} is older than the .po: run pybabel compile ({len(stale)} differ)"
    # And nothing compiled that the .po no longer has.
    compiled_ids = {k for k in compiled._catalog if isinstance(k, str) and k}  # type: ignore[attr-defined]
    assert compiled_ids == set(po), f"{mo} has other msgids than the .po: run pybabel compile"


def test_chinese_is_chinese_and_english_is_english() -> None:
    assert i18n.gettext_for("zh")("Synthetic terrain (demo)") == "合成地形（演示）"
    assert i18n.gettext_for("en")("Synthetic terrain (demo)") == "Synthetic terrain (demo)"
    assert i18n.gettext_for("zh")("Hazard ledger") == "隐患台账"


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="'fr' is not offered"):
        i18n.translations_for("fr")


def _request(query: str = "", cookie: str | None = None) -> Request:
    headers = [(b"cookie", cookie.encode())] if cookie else []
    return Request({"type": "http", "query_string": query.encode(), "headers": headers})


@pytest.mark.parametrize(
    ("query", "cookie", "default", "expected"),
    [
        ("", None, "zh", "zh"),
        ("", None, "en", "en"),
        ("lang=en", None, "zh", "en"),
        ("", "lang=en", "zh", "en"),
        ("lang=zh", "lang=en", "en", "zh"),  # the query wins over the cookie
        ("lang=fr", "lang=xx", "zh", "zh"),  # unknown values are ignored
    ],
)
def test_negotiate_language(query: str, cookie: str | None, default: str, expected: str) -> None:
    assert i18n.negotiate_language(_request(query, cookie), default) == expected


def test_templates_translate_per_language() -> None:
    zh = i18n.templates_for("zh").env.from_string('{{ _("Log in") }}').render()
    en = i18n.templates_for("en").env.from_string('{{ _("Log in") }}').render()
    assert (zh, en) == ("登录", "Log in")
