"""The one place that gives matplotlib a font with CJK glyphs (Noto Sans CJK, Debian/Ubuntu package
``fonts-noto-cjk``, installed by ``make setup``'s ``system`` target).

The font is found by *file path* (fontconfig's ``fc-match``, else a scan of the usual install
directories) and registered with matplotlib by that path, so a matplotlib font cache built before
the font was installed cannot make the charts fall back to DejaVu Sans (which has no CJK glyphs
and draws empty boxes with a "Glyph … missing" warning per character).
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

#: fontconfig patterns tried in order; the first that resolves to a Noto CJK file wins.
_PATTERNS = ("Noto Sans CJK SC", "Noto Sans CJK", "Noto Serif CJK SC")
#: Where the packages put the files, scanned when fontconfig is absent.
_SEARCH_DIRS = (
    Path("/usr/share/fonts/opentype/noto"),
    Path("/usr/share/fonts/noto-cjk"),
    Path("/usr/share/fonts/google-noto-cjk"),
    Path("/usr/share/fonts"),
)
_FILE_NAMES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSerifCJK-Regular.ttc")
#: Environment variable that points at a font file explicitly (a CJK font not from the package).
ENV_VAR = "FANGXUN_CJK_FONT"


class CJKFontMissing(RuntimeError):
    """No font with CJK glyphs was found; charts would draw empty boxes for Chinese text."""


def _fc_match(pattern: str) -> Path | None:
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "-f", "%{file}", pattern], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(out) if out else None
    # fc-match always answers something (DejaVu when nothing fits): accept only a CJK file.
    if path is not None and path.is_file() and "cjk" in path.name.lower():
        return path
    return None


def find_cjk_font() -> Path:
    """The path of the installed Noto CJK font file (``.ttc``/``.otf``).

    Raises :class:`CJKFontMissing` with the install command when there is none.
    """
    env = os.environ.get(ENV_VAR)
    if env:
        if Path(env).is_file():
            return Path(env)
        raise CJKFontMissing(f"{ENV_VAR}={env!r} is not a file")
    for pattern in _PATTERNS:
        found = _fc_match(pattern)
        if found is not None:
            return found
    for folder in _SEARCH_DIRS:
        for name in _FILE_NAMES:
            if (folder / name).is_file():
                return folder / name
        if folder.is_dir():
            for candidate in sorted(folder.rglob("*CJK*Regular*")):
                if candidate.suffix.lower() in {".ttc", ".otf", ".ttf"}:
                    return candidate
    raise CJKFontMissing(
        "no Noto CJK font found (fc-match 'Noto Sans CJK SC' and /usr/share/fonts); "
        "install it with `make system` (apt-get install fonts-noto-cjk) or set "
        f"{ENV_VAR} to a font file with Chinese glyphs"
    )


@functools.cache
def configure_matplotlib() -> str | None:
    """Register the CJK font with matplotlib by path and make it the default family.

    Returns the family name in use, or ``None`` (logged as a warning, charts still render with
    missing glyphs) when no CJK font is installed. Safe to call on every chart; does the work once.
    """
    import matplotlib
    from matplotlib import font_manager

    try:
        path = find_cjk_font()
    except CJKFontMissing as exc:
        log.warning("charts will not show Chinese text: %s", exc)
        return None
    font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=str(path)).get_name()
    matplotlib.rcParams["font.family"] = "sans-serif"
    matplotlib.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
    # The CJK fonts lack U+2212 MINUS SIGN in some builds; draw an ASCII hyphen-minus instead.
    matplotlib.rcParams["axes.unicode_minus"] = False
    log.info("chart font: %s (%s)", name, path)
    return name
