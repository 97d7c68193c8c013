"""Plain text inside robot markdown: the one escape every interpolated value goes through.

Names, places and reasons come from people (a hazard point's name, a duty officer's reason). Put
verbatim into WeCom or DingTalk markdown, ``[点此确认](http://evil.example/ack)`` becomes a working
link and ``### x`` a heading. The robots' markdown dialects are not documented to honour CommonMark
backslash escapes, so :func:`escape` replaces each character that can start markup with its
full-width twin (``［`` for ``[``, ``＃`` for ``#``, …), which every client shows as the same text
and none reads as markup; line breaks become spaces, so a value can never start a line (a heading,
a list, a quote). Parentheses, hyphens and dots stay: without ``[`` … ``]`` they make no link.

>>> escape("[点此确认](http://evil.example/ack)\\n### x")
'［点此确认］(http://evil.example/ack) ＃＃＃ x'
"""

from __future__ import annotations

#: Markup characters of CommonMark, GFM (tables, strikethrough) and the robots' HTML subset, with
#: the full-width (or look-alike) character shown instead.
_TABLE = str.maketrans(
    {
        "\\": "＼",
        "`": "｀",
        "*": "＊",
        "_": "＿",
        "[": "［",
        "]": "］",
        "<": "＜",
        ">": "＞",
        "#": "＃",
        "|": "｜",
        "~": "～",
        "&": "＆",
        "\r": " ",
        "\n": " ",
        "\t": " ",
        "\v": " ",
        "\f": " ",
        "\x85": " ",
        "\u2028": " ",
        "\u2029": " ",
    }
)


def escape(value: object) -> str:
    """``value`` as text that robot markdown shows as it is: no link, heading, emphasis or HTML."""
    return str(value).translate(_TABLE)
