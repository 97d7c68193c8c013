"""What a Chinese page may show in Latin letters: the checks of the zh-page tests (server-rendered
pages, and the text the browser shows on the map and the wall)."""

from __future__ import annotations

import re

from fangxun.demo.org_seed import DEMO_LOGINS

#: Latin words a Chinese page may show: units, codes and names that are the same in Chinese.
ALLOWED_WORDS = frozenset(
    {
        # units and quantities
        "mm", "cm", "km", "m³", "kW", "mAh", "kg", "km²", "ha",
        # standards, formats and protocols people name as such
        "GB", "SL", "CAP", "CSV", "PDF", "Word", "Excel", "GeoJSON", "API", "MQTT", "WeCom",
        "QC", "ID", "IV", "III", "II", "I", "No", "JSON", "YAML", "Atom", "iCalendar", "XML",
        "HTTP", "URL", "SMS", "DingTalk", "Webhook", "webhook",
        # geodesy and meteorology terms used as such in Chinese (WGS 84, GPS, DEM, QPF, UTC)
        "WGS", "GPS", "DEM", "QPF", "UTC",
        # the product's name and the demo's unit codes
        "Fangxun", "GXQ", "WUTONG", "GOUZHAO", "FENGYANG", "SHIFO", "SHUANGQIAO", "CGJ",
        "NYNCJ", "HBAJJ", "SWJ", "YJGLJ", "GAJJ",
        # the language switch names English in English
        "English",
    }
)  # fmt: skip
#: Codes of things (stations, points, datastreams, usernames) are identifiers people type: an
#: upper-case code with digits or dashes, a username of a demo login, a file name.
CODE = re.compile(r"^(?:[A-Z0-9]+(?:[-_][A-Za-z0-9]+)+|[A-Z]+\d+[A-Z0-9]*|[A-Za-z]\d+(?:\.\d+)?)$")
#: Contact addresses (e-mail, a robot's URL) are data people copy, not text to translate.
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+|https?://\S+")
USERNAMES = frozenset(login.username for login in DEMO_LOGINS)
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.\-³²]*")
ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def english_words(text: str) -> list[str]:
    """The words of ``text`` that are English (not allowed, not a code, not a username).

    >>> english_words("积水 35 cm，PD-LB03 站 Channel rules")
    ['Channel', 'rules']
    """
    out = []
    for word in WORD.findall(EMAIL.sub(" ", text)):
        word = word.strip(".-_")
        if len(word) < 2 and word not in ("a", "A"):
            continue
        if word in ALLOWED_WORDS or word in USERNAMES or CODE.match(word):
            continue
        if re.fullmatch(r"[\w\-]+\.(?:tif|tiff|png|csv|json|inp|pdf|xlsx|docx)", word):
            out.append(word)  # a file name is an internal
            continue
        out.append(word)
    return out
