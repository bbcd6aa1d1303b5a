"""NL2SQL value matching: numbers written in Chinese numerals line up with the table's numbers."""

from kerasformers.tasks.nl2sql import normalise_value, numeral_spans, value_span

TABLE = {"header": ["城市", "人口"], "types": ["text", "real"], "rows": [["北京", 2150], ["上海", 2480]]}


def test_a_numeric_value_finds_its_chinese_numeral_in_the_question():
    question = "人口多于两千一百五十万的城市"
    start, end = value_span("21500000", question)
    assert question[start:end] == "两千一百五十万"
    question = "人口超过1.5万的城市有哪些"
    assert question[slice(*value_span("15000", question))] == "1.5万"
    assert value_span("2480", "人口是2480的城市") == (3, 7)  # the written form still wins


def test_predicted_real_values_are_normalised_to_numbers():
    assert normalise_value("三十万", TABLE, 1) == "300000"
    assert normalise_value("2,480人", TABLE, 1) == "2480"
    assert normalise_value("零点五", TABLE, 1) == "0.5"
    assert normalise_value("负五", TABLE, 1) == "-5"
    assert normalise_value("很多", TABLE, 1) == "很多"  # no number: kept as written
    assert normalise_value("北经", TABLE, 0) == "北京"  # text columns: the most similar cell


def test_numeral_spans_cover_both_writings():
    spans = numeral_spans("3个城市，两万人")
    assert [(s, e, v) for s, e, v in spans] == [(0, 1, 3.0), (5, 7, 20000.0)]
