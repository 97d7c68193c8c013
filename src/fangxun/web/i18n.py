"""Languages of the web pages: Babel message catalogues, Chinese first, English switchable.

Every UI text is an English msgid in the templates (``{{ _("Map") }}``) or in Python (marked with
:func:`N_` and translated at render time); ``locale/{zh,en}/LC_MESSAGES/messages.po`` give the text
shown. The catalogues are kept with ``pybabel`` (see ``babel.cfg`` next to this file), from the
project root::

    W=src/fangxun/web
    pybabel extract -F $W/babel.cfg --no-location --sort-output -o $W/locale/messages.pot $W
    pybabel update -i $W/locale/messages.pot -d $W/locale -N --ignore-obsolete
    # ... translate the new (empty) msgstr entries in both .po files, then:
    pybabel compile -d $W/locale

``tests/web/test_web_i18n.py`` fails when a msgid lacks a translation or the ``.mo`` is stale.

The language of a request is ``?lang=xx`` (which also sets the ``lang`` cookie), else the ``lang``
cookie, else ``Settings.language``.

>>> gettext_for("zh")("Map")
'一张图'
>>> gettext_for("en")("Map")
'Map'
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Final

import jinja2
from babel.support import Translations
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from fangxun.times import install_filters

#: Languages offered, the first is the default when nothing else decides.
LANGUAGES: Final[tuple[str, ...]] = ("zh", "en")
#: Name of the cookie (and query parameter) that picks the language.
LANG_COOKIE: Final = "lang"
#: Each language named in its own script, for the language switch.
LANGUAGE_NAMES: Final[dict[str, str]] = {"zh": "中文", "en": "English"}
#: ``<html lang>`` values (BCP 47).
HTML_LANG: Final[dict[str, str]] = {"zh": "zh-CN", "en": "en"}

WEB_DIR: Final = Path(__file__).resolve().parent
LOCALE_DIR: Final = WEB_DIR / "locale"
TEMPLATE_DIR: Final = WEB_DIR / "templates"
DOMAIN: Final = "messages"


def N_(message: str) -> str:
    """Mark ``message`` for extraction without translating it (it is translated when rendered)."""
    return message


#: The services that act by themselves, as the audit log names them (username → msgid).
SYSTEM_ACTORS: Final[dict[str, str]] = {
    "system": N_("System"),
    "system/demo": N_("System (demo data)"),
    "rules": N_("Warning rules (automatic)"),
    "rule:response": N_("Response rules (automatic)"),
    "forecast-scheduler": N_("Forecast scheduler (automatic)"),
    "notify": N_("Notification service (automatic)"),
    "public": N_("Public report"),
    "demo-story": N_("Demo storm story"),
}
#: Prefixes of system actors that carry a name: ``link:张三`` acknowledged through a link.
SYSTEM_PREFIXES: Final[dict[str, str]] = {
    "link:": N_("%(name)s (by link)"),
    "cli:": N_("%(name)s (command line)"),
    "system/": N_("System (%(name)s)"),
}


def actor_label(username: str | None, gettext: Callable[[str], str]) -> str:
    """How a page names who did something: a person's username as it is, a service by what it
    is (``rules`` → 预警规则（自动）), never the service's internal name."""
    if not username:
        return ""
    if username in SYSTEM_ACTORS:
        return gettext(SYSTEM_ACTORS[username])
    for prefix, msgid in SYSTEM_PREFIXES.items():
        if username.startswith(prefix):
            return gettext(msgid) % {"name": username.removeprefix(prefix)}
    return username


@lru_cache(maxsize=len(LANGUAGES))
def translations_for(lang: str) -> Translations:
    """The compiled catalogue of ``lang``; raises ``ValueError`` for an unknown language and
    ``FileNotFoundError`` when ``messages.mo`` was not compiled (run ``pybabel compile``)."""
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not offered; choose one of {', '.join(LANGUAGES)}")
    mo = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if not mo.is_file():
        raise FileNotFoundError(
            f"message catalogue {mo} is missing: run 'pybabel compile -d {LOCALE_DIR}'"
        )
    with mo.open("rb") as fh:
        return Translations(fh, domain=DOMAIN)


def gettext_for(lang: str) -> Callable[[str], str]:
    """The ``gettext`` function of ``lang``, for texts produced in Python."""
    return translations_for(lang).gettext


@lru_cache(maxsize=len(LANGUAGES))
def templates_for(lang: str) -> Jinja2Templates:
    """A template renderer whose ``_()``/``gettext()``/``ngettext()`` speak ``lang``.

    One Jinja environment per language keeps translation state out of requests: the templates
    are compiled once per language and shared by all requests.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=jinja2.select_autoescape(["html", "xml"]),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # newstyle: ``_("... %(name)s", name=x)`` formats and escapes in one step.
    env.install_gettext_translations(translations_for(lang), newstyle=True)  # type: ignore[attr-defined]
    install_filters(env)  # {{ t | local }}: the district's zone (fangxun.times)
    gettext = translations_for(lang).gettext
    env.filters["who"] = lambda username: actor_label(username, gettext)
    return Jinja2Templates(env=env)


def negotiate_language(request: Request, default: str) -> str:
    """The language of ``request``: ``?lang=``, then the ``lang`` cookie, then ``default``."""
    for candidate in (request.query_params.get(LANG_COOKIE), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return default if default in LANGUAGES else LANGUAGES[0]


__all__ = [
    "HTML_LANG",
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "LANG_COOKIE",
    "LOCALE_DIR",
    "N_",
    "SYSTEM_ACTORS",
    "TEMPLATE_DIR",
    "actor_label",
    "gettext_for",
    "negotiate_language",
    "templates_for",
    "translations_for",
]
