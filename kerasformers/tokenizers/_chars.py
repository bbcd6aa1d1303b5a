"""Character classes of bert4keras's BERT tokenizer, compiled into C regexes.

bert4keras decides per character: punctuation and CJK ideographs become words of
their own, spaces separate words, control characters vanish, everything else is
glued into words. Doing that decision with Python's C-implemented ``re`` is ~10x
faster on Chinese text than a ``tokenizers`` normalizer + pre-tokenizer pipeline
(measured, see docs/tokenizers.md), and it reproduces bert4keras's exact classes,
which differ from HuggingFace's in a few corners (listed in the docs).
"""

import functools
import re
import sys
import unicodedata

# CJK Unified Ideographs blocks, as bert4keras defines them.
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
# Python's str.split() (what bert4keras splits words with) also splits on U+2028 / U+2029.
SPACE_CHARS = " \n\r\t\u2028\u2029"


def is_cjk(ch):
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in CJK_RANGES)


def is_punctuation(ch):
    """ASCII symbols plus every Unicode P* character."""
    code = ord(ch)
    return (
        33 <= code <= 47
        or 58 <= code <= 64
        or 91 <= code <= 96
        or 123 <= code <= 126
        or unicodedata.category(ch).startswith("P")
    )


def is_space(ch):
    return ch in SPACE_CHARS or unicodedata.category(ch) == "Zs"


def is_control(ch):
    """Characters bert4keras deletes: NUL, U+FFFD and categories Cc/Cf (not spaces)."""
    if is_space(ch):
        return False
    return ch in "\x00\ufffd" or unicodedata.category(ch) in ("Cc", "Cf")


def _char_class(predicate, categories, limit=None):
    """The body of a regex character class matching the code points (below ``limit``)
    where predicate holds."""
    ranges, start = [], None
    for code, cat in enumerate(categories[:limit] + [None]):
        inside = cat is not None and predicate(code, cat)
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            ranges.append((start, code - 1))
            start = None
    return "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in ranges
    )


@functools.cache
def patterns():
    """Compiled regexes, built once per process (one ~0.5 s scan of all code points).

    Python's ``re`` tests BMP-only classes with a bitmap but walks range lists once a
    class holds astral code points (~50x slower), so the deletion patterns also come
    in a BMP-only variant, enough whenever a text has no astral character.
    """
    cats = [unicodedata.category(chr(code)) for code in range(sys.maxunicode + 1)]
    ascii_symbol = lambda c: 33 <= c <= 47 or 58 <= c <= 64 or 91 <= c <= 96 or 123 <= c <= 126
    cjk = lambda c: any(lo <= c <= hi for lo, hi in CJK_RANGES)
    alone = lambda c, cat: cjk(c) or ascii_symbol(c) or cat[0] == "P"
    space = lambda c, cat: chr(c) in SPACE_CHARS or cat == "Zs"
    control = lambda c, cat: not space(c, cat) and (c in (0, 0xFFFD) or cat in ("Cc", "Cf"))
    mark_or_control = lambda c, cat: cat == "Mn" or control(c, cat)
    compiled = {"astral": re.compile("[\U00010000-\U0010ffff]")}
    for suffix, limit in (("", None), ("_bmp", 0x10000)):
        # Deleted characters, without / with do_lower_case (which also strips accents, Mn).
        compiled["deleted" + suffix] = re.compile(f"[{_char_class(control, cats, limit)}]")
        compiled["deleted_lower" + suffix] = re.compile(f"[{_char_class(mark_or_control, cats, limit)}]")
    split, spaces = _char_class(alone, cats), _char_class(space, cats)
    # A word: one CJK/punctuation character, or a run of anything but spaces/CJK/punctuation.
    compiled["word"] = re.compile(f"[{split}]|[^{split}{spaces}]+")
    compiled["nonspacing_mark"] = re.compile(f"[{_char_class(lambda c, cat: cat == 'Mn', cats)}]")
    return compiled
