"""Password strength: refuse common passwords and the user's own names (issue 20, item 12).

Two checks, both offline:

* zxcvbn (Dropbox's estimator, with its bundled frequency lists of leaked passwords, English
  words and names, keyboard patterns, dates, l33t and repeats) must score the password at least
  :data:`MIN_SCORE` (0–4; 2 means "somewhat guessable": more than 10⁶ guesses), with the user's
  own names (username and its parts, the person's name) added to its dictionaries;
* a short bundled list of passwords common in Chinese leaks that zxcvbn's English-centred lists
  score too kindly (``woaini1314``, ``5201314``, ``1qaz2wsx``, …).

>>> problem("correct-horse-battery", names=["duty1"]) is None
True
>>> problem("12345678", names=[]).split(":")[0]
'too common or too easy to guess (strength 0 of 4, at least 2 needed)'
>>> problem("duty1duty1", names=["duty1"]) is not None
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Lowest zxcvbn score accepted (0 too guessable … 4 very unguessable).
MIN_SCORE = 2
#: zxcvbn refuses longer input; the first 72 characters are what it judges (a longer password
#: is judged by its start, which is already plenty).
_ZXCVBN_MAX = 72

#: Passwords common in Chinese leaks (CSDN, 12306 and later analyses), lower case.
COMMON_ZH = frozenset(
    {
        "woaini1314", "5201314", "52013145201314", "1314520", "woaini520", "woaini",
        "iloveyou1314", "1qaz2wsx", "1q2w3e4r", "1q2w3e4r5t", "qazwsxedc", "zaq12wsx",
        "a123456", "a12345678", "a123456789", "aa123456", "abc123456", "123456abc",
        "123456aa", "qq123456", "qwe123456", "1234qwer", "qwer1234", "asd123456",
        "zxc123456", "147258369", "123654789", "789456123", "159357", "147258",
        "88888888", "66666666", "11111111", "00000000", "12121212", "11223344",
        "123123123", "110110110", "31415926", "dearbook", "xiazhili", "admin123",
        "admin888", "root1234", "passw0rd", "p@ssw0rd", "password1", "huawei123",
        "fangxun", "fangxun123", "fangxun2024", "fangxun2025", "fangxun2026",
    }
)  # fmt: skip


def _name_parts(names: Iterable[str]) -> list[str]:
    parts: list[str] = []
    for name in names:
        name = (name or "").strip().lower()
        if not name:
            continue
        parts.append(name)
        pieces = [p for p in re.split(r"[\s._@-]+", name) if p]
        parts.extend(pieces)
        parts.append("".join(pieces))
        parts.append(re.sub(r"\d+$", "", name))
    return [p for p in dict.fromkeys(parts) if p]


def problem(password: str, *, names: Iterable[str], min_score: int = MIN_SCORE) -> str | None:
    """Why ``password`` is refused, or ``None`` when it is good enough. ``names`` are the user's
    own (username, person's name): a password built from them is weak."""
    from zxcvbn import zxcvbn

    lowered = password.strip().lower()
    if lowered in COMMON_ZH:
        return "too common: it is on the list of the most used passwords"
    parts = _name_parts(names)
    core = re.sub(r"[\W\d_]+", "", lowered)
    if any(core == p or lowered == p for p in parts):
        return "must not be made of your own username or name"
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=parts)
    score = int(result["score"])
    if score >= min_score:
        return None
    feedback = result.get("feedback") or {}
    hint = feedback.get("warning") or " ".join(feedback.get("suggestions") or [])
    return (
        f"too common or too easy to guess (strength {score} of 4, at least {min_score} needed)"
        + (f": {hint}" if hint else "")
    )
