"""NL2SQL on TableQA (the 2019 Zhuiyi competition data), after "基于Bert的NL2SQL模型".

The question and every column name are encoded together::

    [CLS] question [SEP] [CLS] header_1 [SEP] [CLS] header_2 [SEP] ...

and each column is represented by the vector at its own ``[CLS]`` (the first token of its
block), as in the article. Four heads:

- connector (``cond_conn_op``: none / and / or) from the question's ``[CLS]``;
- per column: its aggregation if selected (6 classes) or "not selected" (a 7th class);
- per question token: the operator of the condition whose value it belongs to (4 ops) or "no
  condition" (a 5th class) -- the article puts the operator on the value tokens, so one column
  may carry two conditions with different operators;
- per question token: which column that condition is on (additive attention over the columns).

Post-processing (the article's): a run of tokens with the same operator and column is one
condition value; on a ``real`` column the number in it is kept, on a ``text`` column the value
is replaced by the most similar cell of that column when one is similar enough. At least one
column is always selected. The connector is forced to none for one condition and to "and"
when the model says none for several. Training values that do not occur verbatim in the
question are aligned to its most similar substring, as the article does.

Records: ``{"question", "table": {"id", "header", "types", "rows"}, "sql": {"sel", "agg",
"cond_conn_op", "conds"}}``. Answers: ``{"sql": <the dataset's SQL dict>, "query": <an SQLite
statement>}``. Metrics: ``logic_form_accuracy`` (the competition's: the whole SQL right, the
order of the selected columns and of the conditions not mattering), ``full_match`` (stricter:
the SQL dict equal field for field with lists in the same order) and ``execution_accuracy``
(both statements return the same rows in SQLite).
"""

import difflib
import os
import re
import sqlite3

import cn2an
import keras
import numpy as np
from keras import ops

from ..layers import Loss, TakeToken
from ..numerics import NEG_INF
from .base import Task, pad
from .readers import DataFormatError, _Reader

AGGREGATIONS = ("", "AVG", "MAX", "MIN", "COUNT", "SUM")
OPERATORS = (">", "<", "==", "!=")
CONNECTORS = ("", "AND", "OR")
NOT_SELECTED = len(AGGREGATIONS)
NO_CONDITION = len(OPERATORS)
COLUMN_TYPES = ("text", "real")
MAX_HEADER_TOKENS = 12
CELL_SIMILARITY = 0.5  # below this a predicted text value is kept as it was written in the question
# A run of digits and Chinese numerals ("两千五百", "1.5万", "三十"): questions write numbers both ways.
_NUMERAL_RUN = re.compile(r"[0-9.点零〇一二两三四五六七八九十百千万亿]+")


# ---- data ------------------------------------------------------------------------------


def check_table(table):
    """Raise TypeError / ValueError naming the first problem of a TableQA table dict."""
    if not isinstance(table, dict):
        raise TypeError(f"a table must be an object, got {type(table).__name__}")
    header, types, rows = table.get("header"), table.get("types"), table.get("rows", [])
    if not isinstance(header, list) or not header or not all(isinstance(h, str) for h in header):
        raise ValueError("'header' must be a non-empty list of strings")
    if not isinstance(types, list) or len(types) != len(header):
        raise ValueError(f"'types' must list one type per column ({len(header)})")
    for column_type in types:
        if column_type not in COLUMN_TYPES:
            raise ValueError(f"column type {column_type!r} is neither 'text' nor 'real'")
    if not isinstance(rows, list):
        raise TypeError("'rows' must be a list")
    for index, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(header):
            raise ValueError(f"row {index} must be a list of {len(header)} cells")


def check_sql(sql, columns):
    """Raise TypeError / ValueError naming the first problem of a TableQA SQL dict on a table of ``columns``."""
    if not isinstance(sql, dict):
        raise TypeError(f"'sql' must be an object, got {type(sql).__name__}")
    sel, agg, conds = sql.get("sel"), sql.get("agg"), sql.get("conds", [])
    if not isinstance(sel, list) or not sel or not isinstance(agg, list) or len(agg) != len(sel):
        raise ValueError("'sel' and 'agg' must be lists of the same non-zero length")
    for column in sel:
        _check_code(column, columns, "sel column")
    for code in agg:
        _check_code(code, len(AGGREGATIONS), "agg")
    _check_code(sql.get("cond_conn_op", 0), len(CONNECTORS), "cond_conn_op")
    if not isinstance(conds, list):
        raise TypeError("'conds' must be a list")
    for cond in conds:
        if not isinstance(cond, list) or len(cond) != 3:
            raise ValueError(f"a condition must be [column, op, value], got {cond!r:.60}")
        _check_code(cond[0], columns, "condition column")
        _check_code(cond[1], len(OPERATORS), "condition op")
        if not isinstance(cond[2], (str, int, float)) or isinstance(cond[2], bool):
            raise TypeError(f"condition value must be a string or number, got {cond[2]!r:.40}")


def _check_code(value, count, what):
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < count:
        raise ValueError(f"{what} must be an integer in 0..{count - 1}, got {value!r:.40}")


def tables_path(path):
    """``train.json`` → ``train.tables.json`` (the dataset keeps each split's tables beside it)."""
    path = os.fspath(path)
    stem = path.removesuffix(".json")
    return stem + ".tables.json"


def read_tables(path, skip_bad=False):
    """A TableQA ``*.tables.json`` file → {table id: table dict}."""
    reader = _Reader(path, skip_bad)
    tables = {}
    for number, table in reader.objects():
        try:
            if not isinstance(table.get("id"), str):
                raise TypeError("missing 'id' string")
            if table["id"] in tables:
                raise ValueError(f"table id {table['id']!r} appears twice")
            check_table(table)
        except (TypeError, ValueError) as error:
            reader.fail(number, str(error))
            continue
        tables[table["id"]] = table
    return tables


def read_tableqa(path, skip_bad=False):
    """TableQA ``train.json`` / ``val.json`` / ``test.json`` (JSON lines with ``table_id``,
    ``question`` and, except in test files, ``sql``) with the tables of the sibling
    ``*.tables.json`` → records ``{"question", "table_id", "table", "sql"?}``."""
    table_file = tables_path(path)
    if not os.path.isfile(table_file):
        raise DataFormatError(
            f"{os.fspath(path)}: its tables file {table_file} is missing "
            "(TableQA keeps them in the sibling *.tables.json)"
        )
    tables = read_tables(table_file, skip_bad)
    reader = _Reader(path, skip_bad)
    for number, line in reader.objects(text_field="question"):
        table = tables.get(line.get("table_id"))
        if table is None:
            reader.fail(number, f"table_id {line.get('table_id')!r} is not in {table_file}")
            continue
        record = {"question": line["question"], "table_id": table["id"], "table": table}
        if "sql" in line:
            try:
                check_sql(line["sql"], len(table["header"]))
            except (TypeError, ValueError) as error:
                reader.fail(number, f"sql: {error}")
                continue
            record["sql"] = line["sql"]
        reader.records.append(record)
    return reader.records


# ---- SQL strings and execution ---------------------------------------------------------


def column_names(table):
    """SQL column names: the headers, made unique (a repeated header gets ``_2``, ``_3``...)."""
    names, seen = [], {}
    for header in table["header"]:
        seen[header] = seen.get(header, 0) + 1
        names.append(header if seen[header] == 1 else f"{header}_{seen[header]}")
    return names


def table_name(table):
    return table.get("name") or f"Table_{table.get('id', 'unnamed')}"


def _identifier(name):
    return '"' + str(name).replace('"', '""') + '"'


def _literal(value, column_type):
    number = _as_number(value)
    if column_type == "real" and number is not None:
        return repr(number)
    return "'" + str(value).replace("'", "''") + "'"


def _as_number(value):
    try:
        number = float(str(value).replace(",", "").strip())
    except ValueError:
        return None
    return number if np.isfinite(number) else None


def to_sql(sql, table):
    """A TableQA SQL dict → an SQLite ``SELECT`` on the table as ``load_table`` creates it."""
    names = column_names(table)
    selected = ", ".join(
        f"{AGGREGATIONS[a]}({_identifier(names[c])})" if a else _identifier(names[c])
        for c, a in zip(sql["sel"], sql["agg"])
    )
    query = f"SELECT {selected} FROM {_identifier(table_name(table))}"
    conds = sql.get("conds", [])
    if conds:
        joiner = f" {CONNECTORS[sql.get('cond_conn_op', 0)] or 'AND'} "
        query += " WHERE " + joiner.join(
            f"{_identifier(names[c])} {OPERATORS[o]} {_literal(v, table['types'][c])}" for c, o, v in conds
        )
    return query


def load_table(connection, table):
    """Create the table in an SQLite connection (``real`` columns as REAL; unparsable cells NULL)."""
    names = column_names(table)
    columns = ", ".join(
        f"{_identifier(n)} {'REAL' if t == 'real' else 'TEXT'}" for n, t in zip(names, table["types"])
    )
    connection.execute(f"CREATE TABLE {_identifier(table_name(table))} ({columns})")
    rows = [
        [
            _as_number(cell) if t == "real" else (None if cell is None else str(cell))
            for cell, t in zip(row, table["types"])
        ]
        for row in table["rows"]
    ]
    marks = ", ".join("?" * len(names))
    connection.executemany(f"INSERT INTO {_identifier(table_name(table))} VALUES ({marks})", rows)


def execute(sql, table):
    """Run a TableQA SQL dict against its table in a fresh in-memory SQLite → sorted rows."""
    connection = sqlite3.connect(":memory:")
    try:
        load_table(connection, table)
        return sorted(connection.execute(to_sql(sql, table)).fetchall(), key=repr)
    finally:
        connection.close()


# ---- value matching (the article's post-processing) -------------------------------------


def most_similar_substring(value, text):
    """The substring of ``text`` most like ``value`` (lengths ``len(value)`` ± 1) and its
    similarity: aligns a training value that the question words differently."""
    best, best_ratio = (0, 0), 0.0
    for length in range(max(1, len(value) - 1), len(value) + 2):
        for start in range(len(text) - length + 1):
            ratio = difflib.SequenceMatcher(None, value, text[start : start + length]).ratio()
            if ratio > best_ratio:
                best, best_ratio = (start, start + length), ratio
    return best, best_ratio


def numeral_value(text):
    """The number a run of Arabic and/or Chinese numerals writes ("两千五" → 2500.0), or None."""
    try:
        return float(cn2an.cn2an(text, "smart"))
    except ValueError:
        return None


def numeral_spans(question):
    """(start, end, value) of every numeral run in the question, Chinese or Arabic."""
    spans = []
    for match in _NUMERAL_RUN.finditer(question):
        value = numeral_value(match.group())
        if value is not None:
            start = match.start()
            if start > 0 and question[start - 1] in "-负":
                start, value = start - 1, -value
            spans.append((start, match.end(), value))
    return spans


def value_span(value, question):
    """Where a condition value sits in the question: (start, end) or None. A numeric value
    also matches a number the question writes in Chinese numerals (2000 ↔ 两千)."""
    value = str(value).strip()
    candidates = [value]
    number = _as_number(value)
    if number is not None and number == int(number):
        candidates.append(str(int(number)))
    for candidate in candidates:
        start = question.find(candidate)
        if candidate and start >= 0:
            return start, start + len(candidate)
    if number is not None:
        for start, end, written in numeral_spans(question):
            if written == number:
                return start, end
    span, ratio = most_similar_substring(value, question)
    return span if ratio >= CELL_SIMILARITY else None


def normalise_value(text, table, column):
    """A predicted value → what the dataset would write: the number on ``real`` columns, the
    most similar cell on ``text`` columns (when similar enough), else the text itself."""
    text = text.strip()
    if table["types"][column] == "real":
        spans = numeral_spans(text.replace(",", ""))
        if spans:
            number = spans[0][2]
            return str(int(number)) if number == int(number) else str(number)
        return text
    cells = {str(row[column]) for row in table["rows"] if row[column] is not None}
    if text in cells or not cells:
        return text
    best = max(cells, key=lambda cell: difflib.SequenceMatcher(None, text, cell).ratio())
    return best if difflib.SequenceMatcher(None, text, best).ratio() >= CELL_SIMILARITY else text


# ---- layers ----------------------------------------------------------------------------


class _GatherColumns(keras.layers.Layer):
    """[hidden (B, T, D), positions (B, H)] → the hidden vectors at those positions (B, H, D)."""

    def call(self, inputs):
        hidden, positions = inputs
        picks = ops.one_hot(ops.cast(positions, "int32"), ops.shape(hidden)[1], dtype=hidden.dtype)
        return ops.einsum("bht,btd->bhd", picks, hidden)

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (*input_shape[1], input_shape[0][-1])


class _ColumnPointer(keras.layers.Layer):
    """Additive attention: for each token, logits over the columns (masked columns ≈ NEG_INF)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.token_dense = keras.layers.Dense(units, name="token")
        self.column_dense = keras.layers.Dense(units, use_bias=False, name="column")
        self.score_dense = keras.layers.Dense(1, name="score")

    def build(self, input_shape):
        hidden_shape, column_shape, _ = input_shape
        self.token_dense.build(hidden_shape)
        self.column_dense.build(column_shape)
        self.score_dense.build((None, None, None, self.units))

    def call(self, inputs):
        hidden, columns, column_mask = inputs
        mixed = ops.tanh(self.token_dense(hidden)[:, :, None, :] + self.column_dense(columns)[:, None, :, :])
        logits = ops.squeeze(self.score_dense(mixed), -1)  # (B, T, H)
        return logits + (1.0 - ops.cast(column_mask, logits.dtype))[:, None, :] * NEG_INF

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (*input_shape[0][:2], input_shape[1][1])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def _masked_crossentropy(labels, logits, weights):
    loss = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    weights = ops.cast(weights, loss.dtype)
    return ops.sum(loss * weights) / ops.maximum(ops.sum(weights), 1.0)


class _NL2SQLLoss(Loss):
    """The sum of the four heads' cross-entropies, each averaged over the positions it covers."""

    def compute_loss(self, inputs, mask=None):
        (
            conn_true,
            conn_logits,
            sel_true,
            sel_logits,
            column_mask,
            op_true,
            op_logits,
            col_true,
            col_logits,
            question_mask,
        ) = inputs
        conn = ops.mean(
            keras.losses.sparse_categorical_crossentropy(conn_true, conn_logits, from_logits=True)
        )
        sel = _masked_crossentropy(sel_true, sel_logits, column_mask)
        op = _masked_crossentropy(op_true, op_logits, question_mask)
        has_value = ops.cast(question_mask, "float32") * ops.cast(
            ops.not_equal(op_true, NO_CONDITION), "float32"
        )
        col = _masked_crossentropy(col_true, col_logits, has_value)
        return conn + sel + op + col


# ---- the task --------------------------------------------------------------------------


class NL2SQLTask(Task):
    """``predict([{"question": "杭州的楼盘平均成交均价是多少", "table": {...}}])`` →
    ``[{"sql": {"sel": [4], "agg": [1], "cond_conn_op": 0, "conds": [[1, 2, "杭州"]]},
    "query": "SELECT AVG(\\"成交均价(元/平米)\\") FROM ... WHERE \\"城市\\" == '杭州'"}]``."""

    name = "nl2sql"
    metric = "logic_form_accuracy"
    default_maxlen = 256

    def read(self, path, skip_bad=False):
        return read_tableqa(path, skip_bad)

    def check_record(self, record):
        if not isinstance(record, dict) or not isinstance(record.get("question"), str):
            raise TypeError(f"expected a dict with a 'question' string, got {record!r:.80}")
        check_table(record.get("table"))
        if "sql" in record:
            check_sql(record["sql"], len(record["table"]["header"]))

    def texts(self, records):
        texts = []
        for record in records:
            table = record["table"]
            texts += [record["question"], *table["header"]]
            texts += [str(cell) for row in table["rows"] for cell in row if cell is not None]
        return texts

    def parse_input(self, item):
        if isinstance(item, dict) and isinstance(item.get("question"), str):
            try:
                check_table(item.get("table"))
            except (TypeError, ValueError) as error:
                raise ValueError(f"nl2sql: bad 'table' in input: {error}") from None
            return item
        raise ValueError(
            f"nl2sql: expected a dict with 'question' and 'table' (header, types, rows), got {item!r:.80}"
        )

    def strip_answers(self, record):
        return {key: value for key, value in record.items() if key != "sql"}

    # ---- model -------------------------------------------------------------------

    def build_heads(self, transformer):
        inputs, hidden = transformer.model.inputs, transformer.model.output
        units = hidden.shape[-1]
        positions = keras.Input(shape=(None,), dtype="int32", name="Input-Column-Positions")
        column_mask = keras.Input(shape=(None,), name="Input-Column-Mask")
        columns = _GatherColumns(name="Column-Vectors")([hidden, positions])
        conn_logits = keras.layers.Dense(len(CONNECTORS), name="Connector")(
            TakeToken(0, name="CLS-token")(hidden)
        )
        sel_logits = keras.layers.Dense(len(AGGREGATIONS) + 1, name="Select-Aggregation")(columns)
        op_logits = keras.layers.Dense(len(OPERATORS) + 1, name="Condition-Operator")(hidden)
        col_logits = _ColumnPointer(units, name="Condition-Column")([hidden, columns, column_mask])
        labels = [
            keras.Input(shape=(), dtype="int32", name="Input-Connector"),
            keras.Input(shape=(None,), dtype="int32", name="Input-Select"),
            keras.Input(shape=(None,), dtype="int32", name="Input-Operator"),
            keras.Input(shape=(None,), dtype="int32", name="Input-Column"),
            keras.Input(shape=(None,), name="Input-Question-Mask"),
        ]
        conn_true, sel_true, op_true, col_true, question_mask = labels
        loss = _NL2SQLLoss(output_axis=1, name="NL2SQL-Loss")(
            [
                conn_true,
                conn_logits,
                sel_true,
                sel_logits,
                column_mask,
                op_true,
                op_logits,
                col_true,
                col_logits,
                question_mask,
            ]
        )
        features = [*inputs, positions, column_mask]
        self.train_model = keras.Model([*features, *labels], loss)

        def softmax():  # an Activation ignores the token mask Keras propagates (a Softmax layer would apply it)
            return keras.layers.Activation("softmax")

        self.predict_model = keras.Model(
            features,
            [softmax()(conn_logits), softmax()(sel_logits), softmax()(op_logits), softmax()(col_logits)],
        )

    # ---- features ----------------------------------------------------------------

    def _encode(self, text, limit):
        from .windows import token_windows

        window = token_windows(self.tokenizer, text, 10**9, 1)[0]
        return window.token_ids[1:-1][:limit], window.offsets[:limit]

    def features(self, record, training):
        if training and "sql" not in record:
            return []
        start_id, end_id = self.tokenizer._token_start_id, self.tokenizer._token_end_id
        question_ids, offsets = self._encode(record["question"], self.maxlen)
        headers = [self._encode(h, MAX_HEADER_TOKENS)[0] for h in record["table"]["header"]]
        limit = MAX_HEADER_TOKENS  # long column names are cut before the question is
        while (
            limit > 1 and 2 + len(question_ids) + sum(2 + min(len(h), limit) for h in headers) > self.maxlen
        ):
            limit -= 1
        blocks = [[start_id, *h[:limit], end_id] for h in headers]
        room = self.maxlen - 2 - sum(len(b) for b in blocks)
        if room < 1:
            raise ValueError(
                f"nl2sql: the {len(blocks)} columns of table {record.get('table_id', '?')} "
                f"need more than maxlen={self.maxlen} tokens; raise --maxlen"
            )
        question_ids, offsets = question_ids[:room], offsets[:room]
        token_ids = [start_id, *question_ids, end_id]
        segment_ids = [0] * len(token_ids)
        positions = []
        for block in blocks:
            positions.append(len(token_ids))
            token_ids += block
            segment_ids += [1] * len(block)
        feature = {
            "token_ids": token_ids,
            "segment_ids": segment_ids,
            "positions": positions,
            "offsets": offsets,
            "length": len(token_ids),
        }
        if training:
            feature.update(self._labels(record, offsets, len(token_ids)))
        return [feature]

    def _labels(self, record, offsets, length):
        sql = record["sql"]
        select = [NOT_SELECTED] * len(record["table"]["header"])
        for column, aggregation in zip(sql["sel"], sql["agg"]):
            select[column] = aggregation
        operators, columns = [NO_CONDITION] * length, [0] * length
        for column, operator, value in sql.get("conds", []):
            span = value_span(value, record["question"])
            if span is None:
                continue
            for index, (start, end) in enumerate(offsets):
                if start < span[1] and end > span[0]:
                    operators[index + 1], columns[index + 1] = operator, column
        question_mask = [0.0] + [1.0] * len(offsets) + [0.0] * (length - len(offsets) - 1)
        return {
            "connector": sql.get("cond_conn_op", 0),
            "select": select,
            "operators": operators,
            "columns": columns,
            "question_mask": question_mask,
        }

    def collate(self, features, length, with_labels=True):
        width = 8
        while width < max(len(f["positions"]) for f in features):
            width *= 2
        inputs = [
            pad([f["token_ids"] for f in features], length),
            pad([f["segment_ids"] for f in features], length),
            pad([f["positions"] for f in features], width),
            pad([[1.0] * len(f["positions"]) for f in features], width, dtype="float32"),
        ]
        if with_labels:
            inputs += [
                np.array([f["connector"] for f in features], dtype="int32"),
                pad([f["select"] for f in features], width, value=NOT_SELECTED),
                pad([f["operators"] for f in features], length, value=NO_CONDITION),
                pad([f["columns"] for f in features], length),
                pad([f["question_mask"] for f in features], length, dtype="float32"),
            ]
        return inputs

    # ---- inference ---------------------------------------------------------------

    def predict_batch(self, features, length):
        outputs = self.predict_model.predict_on_batch(self.collate(features, length, with_labels=False))
        conn, sel, op, col = (keras.ops.convert_to_numpy(o) for o in outputs)
        return [(conn[i], sel[i], op[i], col[i]) for i in range(len(features))]

    def combine(self, record, parts):
        feature, (conn, sel, op, col) = parts[0]
        sql = self.decode(record, feature, conn, sel, op, col)
        return {"sql": sql, "query": to_sql(sql, record["table"])}

    def decode(self, record, feature, conn, sel, op, col):
        """The four heads' probabilities → a TableQA SQL dict (see the module docstring)."""
        table, count = record["table"], len(record["table"]["header"])
        sel = sel[:count]
        choices = np.argmax(sel, axis=-1)
        selected = [(c, int(choices[c])) for c in range(count) if choices[c] != NOT_SELECTED]
        if not selected:
            best = int(np.argmax(1.0 - sel[:, NOT_SELECTED]))
            selected = [(best, int(np.argmax(sel[best, :NOT_SELECTED])))]
        conds, run = [], None
        offsets = feature["offsets"]
        for index in range(len(offsets) + 1):
            key = None
            if index < len(offsets):
                operator = int(np.argmax(op[index + 1]))
                if operator != NO_CONDITION:
                    key = (int(np.argmax(col[index + 1, :count])), operator)
            if run is not None and key != run[0]:
                column, operator = run[0]
                text = record["question"][int(offsets[run[1], 0]) : int(offsets[index - 1, 1])]
                cond = [column, operator, normalise_value(text, table, column)]
                if cond not in conds:
                    conds.append(cond)
                run = None
            if key is not None and run is None:
                run = (key, index)
        connector = int(np.argmax(conn))
        if len(conds) <= 1:
            connector = 0
        elif connector == 0:
            connector = 1
        return {
            "sel": [c for c, _ in selected],
            "agg": [a for _, a in selected],
            "cond_conn_op": connector,
            "conds": conds,
        }

    def score(self, records, predictions):
        unlabelled = next((i for i, r in enumerate(records) if "sql" not in r), None)
        if unlabelled is not None:
            raise DataFormatError(f"nl2sql: record {unlabelled} has no 'sql' to score against (a test file?)")
        exact = logic = executed = 0
        for record, prediction in zip(records, predictions):
            gold, predicted = record["sql"], prediction["sql"]
            exact += _strict_form(gold) == _strict_form(predicted)
            logic += _logic_form(gold) == _logic_form(predicted)
            executed += _same_result(gold, predicted, record["table"])
        total = len(records)
        return {
            "full_match": exact / total,
            "logic_form_accuracy": logic / total,
            "execution_accuracy": executed / total,
        }


def _value_key(value):
    number = _as_number(value)
    return ("number", number) if number is not None else ("text", str(value).strip())


def _strict_form(sql):
    return (
        list(sql["sel"]),
        list(sql["agg"]),
        sql.get("cond_conn_op", 0),
        [(c, o, _value_key(v)) for c, o, v in sql.get("conds", [])],
    )


def _logic_form(sql):
    return (
        sorted(zip(sql["sel"], sql["agg"])),
        sql.get("cond_conn_op", 0),
        sorted((c, o, _value_key(v)) for c, o, v in sql.get("conds", [])),
    )


def _same_result(gold, predicted, table):
    try:
        return execute(gold, table) == execute(predicted, table)
    except sqlite3.Error:
        return False
