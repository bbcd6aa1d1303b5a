"""Readers for the original public data formats, each returning plain Python records.

Every reader takes a path and ``skip_bad``. A malformed record raises ``DataFormatError``
naming the file and line; with ``skip_bad=True`` it is skipped and counted instead
(``records.skipped``). Records use one schema per task:

=====================  ==================================================================
classification         ``{"text", "label"}``                      (``text<TAB>label`` lines)
sentence-pair          ``{"text_a", "text_b", "label"}``           (LCQMC ``s1<TAB>s2<TAB>label``)
ner                    ``{"text", "entities": [{"type", "start", "end", "text"}]}``
                       (char-per-line BIO / BMES / BIOES, blank line between sentences)
cws                    ``{"text", "words": [...]}``                (icwb2: words split by spaces)
relation-extraction    ``{"text", "spo_list": [{"subject", "predicate", "object", ...}]}``
                       (LIC2019 JSON lines; predicates from ``all_50_schemas``)
event-extraction       ``{"id", "text", "event_type", "subject"}``  (CCKS 2019 CSV, no header)
entity-linking         ``{"text_id", "text", "mention_data": [{"kb_id", "mention", "offset"}]}``
                       (CCKS 2019 ``train.json``; the knowledge base from ``kb_data``)
=====================  ==================================================================

Offsets are character offsets into ``text``; ``end`` is exclusive. A file whose first
non-empty line is a JSON object is read as JSON lines already in the task's schema.
"""

import csv
import json
import os
import re


class DataFormatError(ValueError):
    """A record that does not follow its format; the message names file and line."""


class Records(list):
    """A list of records that also knows how many bad records were skipped."""

    skipped = 0


class _Reader:
    """Shared error handling: ``fail`` raises or counts, depending on ``skip_bad``."""

    def __init__(self, path, skip_bad):
        self.path = os.fspath(path)
        self.skip_bad = skip_bad
        self.records = Records()
        if not os.path.isfile(self.path):
            raise DataFormatError(f"{self.path}: no such file")

    def fail(self, line_number, message):
        if not self.skip_bad:
            raise DataFormatError(f"{self.path}, line {line_number}: {message}")
        self.records.skipped += 1

    def lines(self):
        """(line number, line without its LF / CRLF ending), decoding errors reported per line."""
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, 1):
                try:
                    line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
                except UnicodeDecodeError as error:
                    self.fail(number, f"not UTF-8 ({error.reason} at byte {error.start})")
                    continue
                yield number, line.rstrip("\r\n")

    def objects(self, text_field=None):
        """(line number, JSON object) per non-empty line; bad JSON, non-objects and (with
        ``text_field``) objects without that string field are reported by ``fail``."""
        for number, line in self.lines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                self.fail(number, f"invalid JSON ({error.msg} at column {error.colno})")
                continue
            if not isinstance(record, dict):
                self.fail(number, f"expected a JSON object, got {type(record).__name__}")
                continue
            if text_field is not None and not isinstance(record.get(text_field), str):
                self.fail(number, f"expected an object with a {text_field!r} string")
                continue
            yield number, record


def _first_line(path):
    if not os.path.isfile(path):
        raise DataFormatError(f"{os.fspath(path)}: no such file")
    with open(path, encoding="utf-8-sig", errors="replace") as handle:
        for line in handle:
            if line.strip():
                return line.strip()
    return ""


def is_json_lines(path):
    return _first_line(path).startswith("{")


def read_json_lines(path, skip_bad=False, required=("text",)):
    """JSON lines, one object per line, each with the ``required`` fields."""
    reader = _Reader(path, skip_bad)
    for number, record in reader.objects():
        missing = [field for field in required if field not in record]
        if missing:
            reader.fail(number, f"missing field(s) {', '.join(repr(m) for m in missing)}")
            continue
        reader.records.append(record)
    return reader.records


# ---- classification and sentence pairs ------------------------------------------------


def read_labelled_texts(path, skip_bad=False):
    """Sentiment-style ``text<TAB>label`` lines."""
    if is_json_lines(path):
        return read_json_lines(path, skip_bad, ("text", "label"))
    reader = _Reader(path, skip_bad)
    for number, line in reader.lines():
        if not line.strip():
            continue
        text, tab, label = line.rpartition("\t")
        if not tab or not text.strip() or not label.strip():
            reader.fail(number, "expected 'text<TAB>label'")
            continue
        reader.records.append({"text": text, "label": label.strip()})
    return reader.records


def read_text_pairs(path, skip_bad=False):
    """LCQMC ``sentence1<TAB>sentence2<TAB>label`` lines."""
    if is_json_lines(path):
        return read_json_lines(path, skip_bad, ("text_a", "text_b", "label"))
    reader = _Reader(path, skip_bad)
    for number, line in reader.lines():
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 3 or not all(f.strip() for f in fields):
            reader.fail(number, f"expected 'sentence1<TAB>sentence2<TAB>label', got {len(fields)} field(s)")
            continue
        reader.records.append({"text_a": fields[0], "text_b": fields[1], "label": fields[2].strip()})
    return reader.records


# ---- sequence labelling ---------------------------------------------------------------

_TAG = re.compile(r"^(?:(O)|([BIMES])[-_](.+))$")


def tags_to_entities(chars, tags):
    """Char tags in BIO / BMES / BIOES → entities. An I/M/E tag that does not continue an
    entity of its type starts a new one (conlleval's rule), since real corpora have such tags."""
    entities, current = [], None
    for index, tag in enumerate(tags):
        match = _TAG.match(tag)
        prefix, kind = (None, None) if match.group(1) else (match.group(2), match.group(3))
        if prefix is None:
            current = None
            continue
        if prefix in "BS" or current is None or current["type"] != kind:
            current = {"type": kind, "start": index, "end": index + 1}
            entities.append(current)
        else:
            current["end"] = index + 1
        if prefix in "ES":
            current = None
    text = "".join(chars)
    return [{**e, "text": text[e["start"] : e["end"]]} for e in entities]


def read_char_tags(path, skip_bad=False):
    """Char-per-line NER (``char<SPACE or TAB>tag``; BIO, BMES or BIOES; LF or CRLF); a
    blank line ends a sentence. MSRA and People's Daily NER use this layout."""
    if is_json_lines(path):
        return read_json_lines(path, skip_bad, ("text", "entities"))
    reader = _Reader(path, skip_bad)
    chars, tags, bad = [], [], False

    def flush():
        if chars and not bad:
            text = "".join(chars)
            reader.records.append({"text": text, "entities": tags_to_entities(chars, tags)})

    for number, line in reader.lines():
        if not line.strip():
            flush()
            chars, tags, bad = [], [], False
            continue
        fields = line.split()
        if len(fields) == 1 and line[:1].isspace():  # the character itself is a space
            fields = [" ", fields[0]]
        if len(fields) != 2 or len(fields[0]) != 1:
            reader.fail(number, f"expected 'character tag', got {line!r:.60}")
            bad = True
            continue
        if not _TAG.match(fields[1]):
            reader.fail(number, f"unknown tag {fields[1]!r} (expected O, B-X, I-X, M-X, E-X or S-X)")
            bad = True
            continue
        chars.append(fields[0])
        tags.append(fields[1])
    flush()
    return reader.records


def read_segmented(path, skip_bad=False):
    """icwb2-style segmented text: one sentence per line, words separated by whitespace
    (ASCII or ideographic spaces). ``word/pos`` tokens (People's Daily 1998) lose their tags."""
    if is_json_lines(path):
        return read_json_lines(path, skip_bad, ("text", "words"))
    reader = _Reader(path, skip_bad)
    tagged = None
    for number, line in reader.lines():
        words = line.split()
        if not words:
            continue
        if tagged is None:
            tagged = all(_POS_WORD.match(word) for word in words)
        if tagged:
            words = [_strip_pos(word) for word in words]
            if not all(words):
                reader.fail(number, "a 'word/pos' token has an empty word")
                continue
        reader.records.append({"text": "".join(words), "words": words})
    return reader.records


_POS_WORD = re.compile(r"^\[?[^/\s]+/[A-Za-z]+\]?[A-Za-z]*$")


def _strip_pos(token):
    word = token.rsplit("/", 1)[0]
    return word[1:] if word.startswith("[") and len(word) > 1 else word


# ---- relation extraction (LIC2019) ----------------------------------------------------


def read_spo(path, skip_bad=False):
    """LIC2019 / DuIE JSON lines: ``{"text", "spo_list": [{"subject", "predicate", "object",
    "subject_type", "object_type"}], "postag": ...}``. Each subject / object is located in the
    text (first occurrence); a triple whose argument is not in the text is a bad record."""
    reader = _Reader(path, skip_bad)
    for number, record in reader.objects(text_field="text"):
        spo_list = record.get("spo_list", [])
        if not isinstance(spo_list, list):
            reader.fail(number, "'spo_list' must be a list")
            continue
        triples, problem = [], None
        for spo in spo_list:
            if not isinstance(spo, dict) or not all(
                isinstance(spo.get(k), str) for k in ("subject", "predicate", "object")
            ):
                problem = "each spo_list item needs 'subject', 'predicate' and 'object' strings"
                break
            for role in ("subject", "object"):
                if spo[role] not in record["text"]:
                    problem = f"{role} {spo[role]!r} does not occur in the text"
            triples.append(
                {
                    key: spo[key]
                    for key in ("subject", "predicate", "object", "subject_type", "object_type")
                    if key in spo
                }
            )
        if problem:
            reader.fail(number, problem)
            continue
        reader.records.append({"text": record["text"], "spo_list": triples})
    return reader.records


def read_schemas(path, skip_bad=False):
    """LIC2019 ``all_50_schemas``: one ``{"subject_type", "predicate", "object_type"}`` per line."""
    return read_json_lines(path, skip_bad, ("predicate",))


# ---- event-subject extraction (CCKS 2019) ---------------------------------------------

NO_EVENT_TYPE = "其他"


def read_event_subjects(path, skip_bad=False):
    """CCKS 2019 financial event-subject CSV without header: ``id,text,event_type,subject``
    (training) or ``id,text,event_type`` (evaluation). Rows typed ``其他`` (no event) have no
    subject and are left out, as in the baseline."""
    if is_json_lines(path):
        return read_json_lines(path, skip_bad, ("text", "event_type"))
    reader = _Reader(path, skip_bad)
    with open(reader.path, encoding="utf-8-sig", newline="") as handle:
        rows = csv.reader(handle)
        while True:
            number = rows.line_num + 1
            try:
                row = next(rows)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as error:
                reader.fail(number, f"unreadable CSV row ({error})")
                continue
            if not row or not any(field.strip() for field in row):
                continue
            if len(row) not in (3, 4):
                reader.fail(number, f"expected 'id,text,event_type[,subject]', got {len(row)} field(s)")
                continue
            record = {"id": row[0], "text": row[1], "event_type": row[2].strip()}
            if record["event_type"] == NO_EVENT_TYPE:
                continue
            if len(row) == 4:
                record["subject"] = row[3].strip()
                if record["subject"] not in record["text"]:
                    reader.fail(number, f"subject {record['subject']!r} does not occur in the text")
                    continue
            reader.records.append(record)
    return reader.records


# ---- entity linking (CCKS 2019) -------------------------------------------------------


def read_mentions(path, skip_bad=False):
    """CCKS 2019 ``train.json`` / ``develop.json``: ``{"text_id", "text", "mention_data":
    [{"kb_id", "mention", "offset"}]}`` per line (offset is a string); each mention must sit
    at its offset."""
    reader = _Reader(path, skip_bad)
    for number, record in reader.objects(text_field="text"):
        mentions, problem = [], None
        for mention in record.get("mention_data", []):
            try:
                offset = int(mention["offset"])
                name = mention["mention"]
            except (KeyError, TypeError, ValueError):
                problem = "each mention_data item needs 'mention' and an integer 'offset'"
                break
            if record["text"][offset : offset + len(name)] != name:
                problem = f"mention {name!r} is not at offset {offset}"
                break
            mentions.append({"kb_id": str(mention.get("kb_id", "NIL")), "mention": name, "offset": offset})
        if problem:
            reader.fail(number, problem)
            continue
        reader.records.append(
            {"text_id": str(record.get("text_id", number)), "text": record["text"], "mention_data": mentions}
        )
    return reader.records


def read_knowledge_base(path, skip_bad=False):
    """CCKS 2019 ``kb_data``: ``{"subject_id", "subject", "alias", "type", "data": [{"predicate",
    "object"}]}`` per line → ``{subject_id: entry}``."""
    entries = read_json_lines(path, skip_bad, ("subject_id", "subject"))
    knowledge_base = {}
    for entry in entries:
        knowledge_base[str(entry["subject_id"])] = {
            "subject": entry["subject"],
            "alias": [a for a in entry.get("alias", []) if isinstance(a, str)],
            "type": entry.get("type", []),
            "data": [d for d in entry.get("data", []) if isinstance(d, dict)],
        }
    return knowledge_base
