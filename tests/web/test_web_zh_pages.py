"""Every page in Chinese, for every role, after the demo's storm: no English words outside an
allow-list, no ISO timestamps, and every text the page asked the catalogue for is in it.

The pages are found by crawling: from the navigation, every link of a page that leads to another
HTML page of the app, at most :data:`PER_PATTERN` pages per URL pattern (``/warnings/12`` and
``/warnings/13`` are one pattern). The text checked is what a person reads: the page's text
without scripts and styles, and the ``title``, ``placeholder``, ``aria-label`` and ``alt``
attributes. Text in ``<code>`` is an identifier people type (a CSV column, a file key) and is
not checked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import replayed_demo
from babel.support import Translations
from fastapi.testclient import TestClient
from zh_text import ISO_TIME, english_words

from fangxun.api.app import create_app
from fangxun.demo.org_seed import DEMO_LOGINS
from fangxun.web import i18n
from web_harness import csrf_of

pytestmark = pytest.mark.slow

#: Pages of one URL pattern looked at, at most.
PER_PATTERN = 2
#: Links never followed: leaving, switching language, downloads and API documents.
SKIP = re.compile(
    r"^/(?:logout|static/|api/|docs|redoc|openapi)|[?&]lang=|\.(?:pdf|xlsx|docx|csv|png|json|"
    r"geojson|zip|tif)(?:$|\?)|/export|/download"
)
#: One login per role, and a department's login beside a street office's.
ROLE_LOGINS = ("admin", "district", "duty", "inspector", "viewer", "wutong", "chengguan")


class _Text(HTMLParser):
    """The readable text of a page and its links."""

    READ_ATTRS = ("title", "placeholder", "aria-label", "alt")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "template", "code"):
            self._skip += 1
        values = dict(attrs)
        for name in self.READ_ATTRS:
            if values.get(name):
                self.texts.append(str(values[name]))
        if tag == "a" and values.get("href"):
            self.links.append(str(values["href"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "template", "code") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.texts.append(data.strip())


def _pattern(path: str) -> str:
    return re.sub(r"/\d+(?=/|$)", "/{id}", urlsplit(path).path)


class _Recording(Translations):  # type: ignore[misc]
    """A catalogue that remembers every msgid asked for that it does not have."""

    missing: set[str]

    def gettext(self, message: str) -> str:
        if message not in self._catalog:
            self.missing.add(message)
        return str(super().gettext(message))

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        if (singular, 0) not in self._catalog:
            self.missing.add(singular)
        return str(super().ngettext(singular, plural, n))

    def pgettext(self, context: str, message: str) -> str:
        if f"{context}\x04{message}" not in self._catalog:
            self.missing.add(f"{context}|{message}")
        return str(super().pgettext(context, message))


@pytest.fixture(scope="module")
def missing_msgids(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """The msgids the zh pages asked for and the catalogue lacks (filled while pages render)."""
    missing: set[str] = set()
    mo = i18n.LOCALE_DIR / "zh" / "LC_MESSAGES" / "messages.mo"
    with mo.open("rb") as fh:
        recording = _Recording(fh, domain=i18n.DOMAIN)
    recording.missing = missing
    original = i18n.translations_for

    def translations_for(lang: str) -> Translations:
        return recording if lang == "zh" else original(lang)

    i18n.templates_for.cache_clear()
    monkeypatch_module.setattr(i18n, "translations_for", translations_for)
    yield missing
    i18n.templates_for.cache_clear()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def _login(client: TestClient, username: str) -> None:
    form = client.get("/login")
    password = next(lg.password for lg in DEMO_LOGINS if lg.username == username)
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(form)},
    )
    assert answer.status_code == 303, f"{username} could not log in: {answer.text[:300]}"


def crawl(client: TestClient) -> dict[str, Any]:
    """Every HTML page reachable from the map: path → (status, text pieces)."""
    queue = ["/map", "/wall"]
    seen_patterns: dict[str, int] = {}
    pages: dict[str, Any] = {}
    while queue:
        path = queue.pop(0)
        if path in pages:
            continue
        pattern = _pattern(path)
        if seen_patterns.get(pattern, 0) >= PER_PATTERN:
            continue
        seen_patterns[pattern] = seen_patterns.get(pattern, 0) + 1
        answer = client.get(path)
        if not answer.headers.get("content-type", "").startswith("text/html"):
            continue
        parser = _Text()
        parser.feed(answer.text)
        pages[path] = (answer.status_code, parser.texts)
        for href in parser.links:
            target = urljoin(path, href)
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not parts.path.startswith("/"):
                continue
            local = parts.path + (f"?{parts.query}" if parts.query else "")
            if SKIP.search(local) or local in pages:
                continue
            queue.append(local)
    return pages


@pytest.mark.parametrize("username", ROLE_LOGINS)
def test_every_zh_page_reads_in_chinese(
    username: str,
    replayed: replayed_demo.ReplayedDemo,
    missing_msgids: set[str],
    tmp_path: Path,
) -> None:
    demo = replayed_demo.fresh_copy(replayed, tmp_path / "demo")
    app = create_app(replayed_demo.settings_for(demo.db, demo.data_dir))
    problems: list[str] = []
    with TestClient(app, follow_redirects=False) as client:
        _login(client, username)
        client.follow_redirects = True
        pages = crawl(client)
    assert len(pages) >= 10, f"{username} reached only {sorted(pages)}"
    for path, (status, texts) in sorted(pages.items()):
        if status >= 500:
            problems.append(f"{path}: HTTP {status}")
        for text in texts:
            words = english_words(text)
            if words:
                problems.append(f"{path}: English {words} in {text[:120]!r}")
            if ISO_TIME.search(text):
                problems.append(f"{path}: ISO time in {text[:120]!r}")
    problems += [f"catalogue lacks {m!r}" for m in sorted(missing_msgids)]
    assert not problems, f"{len(problems)} problems for {username}:\n" + "\n".join(
        dict.fromkeys(problems)
    )
