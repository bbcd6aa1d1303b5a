"""Readers of the original formats, on hand-written fixtures in those formats (no models)."""

import pathlib

import pytest

from kerasformers.tasks import readers
from kerasformers.tasks.readers import DataFormatError

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "tasks"


def _entities(record):
    return [(e["type"], e["start"], e["end"], e["text"]) for e in record["entities"]]


def test_sentiment_lines():
    records = readers.read_labelled_texts(FIXTURES / "sentiment.tsv")
    assert len(records) == 4
    assert records[0] == {"text": "这家酒店位置很好，服务也热情", "label": "1"}
    assert [r["label"] for r in records] == ["1", "0", "1", "0"]


def test_lcqmc_pairs():
    records = readers.read_text_pairs(FIXTURES / "lcqmc.tsv")
    assert records[2] == {"text_a": "大家觉得她好看吗", "text_b": "大家觉得跑男好看吗？", "label": "0"}
    assert len(records) == 4


def test_msra_bmes_crlf():
    raw = (FIXTURES / "msra_bmes.txt").read_bytes()
    assert b"\r\n" in raw  # the fixture really is CRLF
    records = readers.read_char_tags(FIXTURES / "msra_bmes.txt")
    assert [r["text"] for r in records] == [
        "中国人民银行在北京召开会议。",
        "王小明是张三的朋友",
        "今天天气很好",
    ]
    assert _entities(records[0]) == [("ORG", 0, 6, "中国人民银行"), ("LOC", 7, 9, "北京")]
    assert _entities(records[1]) == [("PER", 0, 3, "王小明"), ("PER", 4, 6, "张三")]
    assert records[2]["entities"] == []


def test_peoples_daily_bio():
    records = readers.read_char_tags(FIXTURES / "peoples_daily_bio.txt")
    assert _entities(records[0]) == [("LOC", 7, 9, "厦门"), ("LOC", 10, 12, "金门")]
    assert _entities(records[1]) == [("LOC", 0, 1, "日"), ("LOC", 1, 2, "俄")]  # adjacent B-LOC B-LOC
    assert _entities(records[2]) == [("PER", 0, 3, "克马尔"), ("PER", 11, 14, "哈蒂丽")]


def test_tags_round_trip_bio_and_bmes():
    text = "张三在北京大学读书"
    for tags in (
        ["B-PER", "I-PER", "O", "B-ORG", "I-ORG", "I-ORG", "I-ORG", "O", "O"],
        ["B-PER", "E-PER", "O", "B-ORG", "M-ORG", "M-ORG", "E-ORG", "O", "O"],
    ):
        assert _entities({"entities": readers.tags_to_entities(list(text), tags)}) == [
            ("PER", 0, 2, "张三"),
            ("ORG", 3, 7, "北京大学"),
        ]


def test_icwb2_segmented_ascii_and_ideographic_spaces():
    pku = readers.read_segmented(FIXTURES / "icwb2_pku.utf8")
    assert pku[0] == {"text": "迈向充满希望的新世纪", "words": ["迈向", "充满", "希望", "的", "新", "世纪"]}
    assert len(pku) == 3
    academia_sinica = readers.read_segmented(FIXTURES / "icwb2_as.utf8")
    assert academia_sinica[0]["words"] == ["台北", "市政府", "今天", "宣布"]


def test_peoples_daily_1998_pos_tags_are_dropped(tmp_path):
    path = tmp_path / "199801.txt"
    path.write_text(
        "迈向/v  充满/v  希望/n  的/u  新/a  世纪/n\n[中央/n  人民/n  广播/vn  电台/n]nt  报道/v\n",
        encoding="utf-8",
    )
    records = readers.read_segmented(path)
    assert records[0]["words"] == ["迈向", "充满", "希望", "的", "新", "世纪"]
    assert records[1]["words"] == ["中央", "人民", "广播", "电台", "报道"]


def test_lic2019_spo_and_schemas():
    records = readers.read_spo(FIXTURES / "lic2019" / "train_data.json")
    assert records[0]["text"] == "《步步惊心》是桐华创作的小说"
    assert records[0]["spo_list"] == [
        {
            "subject": "步步惊心",
            "predicate": "作者",
            "object": "桐华",
            "subject_type": "图书作品",
            "object_type": "人物",
        }
    ]
    assert len(records[1]["spo_list"]) == 3
    schemas = readers.read_schemas(FIXTURES / "lic2019" / "all_50_schemas")
    assert [s["predicate"] for s in schemas] == ["作者", "出生地", "妻子", "丈夫"]


def test_ccks2019_event_csv():
    records = readers.read_event_subjects(FIXTURES / "ccks2019_event_train.csv")
    # the 其他 (no event) row is left out; doubled quotes inside a field are unescaped
    assert [(r["id"], r["event_type"], r["subject"]) for r in records] == [
        ("1", "财务造假", "公司A"),
        ("2", "提现困难", "小牛在线"),
        ("4", "信批违规", "中弘股份"),
    ]
    assert records[2]["text"] == '据报道，"中弘股份"因信息披露违规被处罚'
    evaluation = readers.read_event_subjects(FIXTURES / "ccks2019_event_eval.csv")
    assert evaluation == [{"id": "5", "text": "公司B高管被查", "event_type": "高管负面"}]


def test_ccks2019_entity_linking():
    records = readers.read_mentions(FIXTURES / "ccks2019_el" / "train.json")
    assert records[0]["mention_data"][1] == {"kb_id": "341096", "mention": "高铁", "offset": 6}
    for record in records:
        for mention in record["mention_data"]:
            start = mention["offset"]
            assert record["text"][start : start + len(mention["mention"])] == mention["mention"]
    kb = readers.read_knowledge_base(FIXTURES / "ccks2019_el" / "kb_data")
    assert kb["311223"]["subject"] == "南京南站" and kb["311223"]["alias"] == ["南京南"]
    assert kb["10002"]["data"] == [{"predicate": "义项描述", "object": "中国第二大油田"}]


@pytest.mark.parametrize(
    "reader, content, message",
    [
        (readers.read_labelled_texts, "好评\t1\n没有标签的一行\n", "line 2: expected 'text<TAB>label'"),
        (
            readers.read_text_pairs,
            "a\tb\t1\na\tb\n",
            "line 2: expected 'sentence1<TAB>sentence2<TAB>label', got 2",
        ),
        (readers.read_char_tags, "中 B-LOC\n国 X-LOC\n", "line 2: unknown tag 'X-LOC'"),
        (readers.read_char_tags, "中 B-LOC extra\n", "line 1: expected 'character tag'"),
        (
            readers.read_spo,
            '{"text": "abc", "spo_list": [{"subject": "x", "predicate": "p", "object": "a"}]}\n',
            "line 1: subject 'x' does not occur in the text",
        ),
        (readers.read_spo, '{"text": "abc"\n', "line 1: invalid JSON"),
        (
            readers.read_event_subjects,
            '"1","公司A被查","高管负面","公司B"\n',
            "line 1: subject '公司B' does not occur",
        ),
        (
            readers.read_mentions,
            ('{"text": "南京南站", "mention_data": [{"kb_id": "1", "mention": "南京", "offset": "1"}]}\n'),
            "line 1: mention '南京' is not at offset 1",
        ),
    ],
)
def test_bad_records_name_file_and_line(tmp_path, reader, content, message):
    path = tmp_path / "bad.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataFormatError) as error:
        reader(path)
    assert str(path) in str(error.value) and message in str(error.value)
    records = reader(path, skip_bad=True)
    assert records.skipped >= 1


def test_skip_bad_counts_and_keeps_the_good_records(tmp_path):
    path = tmp_path / "mixed.tsv"
    path.write_bytes("好评\t1\n坏行\n差评\t0\n".encode() + b"\xff\xfe\t1\n")
    records = readers.read_labelled_texts(path, skip_bad=True)
    assert [r["label"] for r in records] == ["1", "0"]
    assert records.skipped == 2  # the line without a tab and the line that is not UTF-8


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(DataFormatError, match="no such file"):
        readers.read_labelled_texts(tmp_path / "absent.tsv")
