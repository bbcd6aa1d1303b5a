"""Cutting long text into model-sized pieces at natural boundaries."""


def text_segmentate(text, maxlen, seps="\n", strips=None):
    """Split ``text`` into pieces of at most ``maxlen`` characters.

    ``seps`` lists separators from strongest to weakest (e.g. ``'\\n。！？，'``).
    The text is split at the strongest separator (which stays attached to the
    left piece), neighbouring pieces are merged greedily while they fit, and
    any piece that is still too long is split again with the weaker
    separators. A piece with no separator left is returned as is, even when
    longer than ``maxlen``. Every piece is stripped of whitespace and of the
    characters in ``strips``.
    """
    text = text.strip().strip(strips)
    if not seps or len(text) <= maxlen:
        return [text]

    sep, weaker = seps[0], seps[1:]
    parts = text.split(sep)
    pieces, current = [], ""
    for i, part in enumerate(parts):
        # Flush before a part that would overflow; the "- 1" reserves room for
        # the separator that follows it (bert4keras's rule).
        if current and part and len(current) + len(part) > maxlen - 1:
            pieces.extend(text_segmentate(current, maxlen, weaker, strips))
            current = ""
        current += part if i == len(parts) - 1 else part + sep
    if current:
        pieces.extend(text_segmentate(current, maxlen, weaker, strips))
    return pieces


def is_string(s):
    return isinstance(s, str)


def strQ2B(ustring):
    """Full-width (全角) characters to their half-width forms: 'ＡＢＣ１，' → 'ABC1,'."""
    chars = []
    for ch in ustring:
        code = ord(ch)
        if code == 0x3000:  # ideographic space
            code = 0x20
        elif 0xFF01 <= code <= 0xFF5E:  # full-width ASCII block is offset by 0xFEE0
            code -= 0xFEE0
        chars.append(chr(code))
    return "".join(chars)


def string_matching(s, keywords):
    """True if any of ``keywords`` occurs in ``s``."""
    return any(k in s for k in keywords)


def convert_to_unicode(text, encoding="utf-8", errors="ignore"):
    """bytes → str (str passes through)."""
    return text.decode(encoding, errors) if isinstance(text, bytes) else text


convert_to_str = convert_to_unicode


def longest_common_substring(source, target):
    """Longest common contiguous slice: ``(length, (i0, i1, j0, j1))``.

    ``source[i0:i1] == target[j0:j1]``; with ties the first one found (in
    source order) is returned.
    """
    best, span = 0, (0, 0, 0, 0)
    previous = [0] * (len(target) + 1)  # run lengths ending at (i-1, j)
    for i, s in enumerate(source, 1):
        current = [0] * (len(target) + 1)
        for j, t in enumerate(target, 1):
            if s == t:
                current[j] = previous[j - 1] + 1
                if current[j] > best:
                    best, span = current[j], (i - current[j], i, j - current[j], j)
        previous = current
    return best, span


def longest_common_subsequence(source, target):
    """Longest common (non-contiguous) subsequence: ``(length, [(i, j), ...])``.

    The mapping pairs positions with ``source[i] == target[j]``, both strictly
    increasing; with ties one optimal alignment is returned.
    """
    n, m = len(source), len(target)
    table = [[0] * (m + 1) for _ in range(n + 1)]  # table[i][j]: LCS of source[:i], target[:j]
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if source[i - 1] == target[j - 1]:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    mapping, i, j = [], n, m
    while i and j:
        if source[i - 1] == target[j - 1]:
            mapping.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif table[i - 1][j] >= table[i][j - 1]:
            i -= 1
        else:
            j -= 1
    return table[n][m], mapping[::-1]
