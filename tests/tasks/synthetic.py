"""Small template corpora for the tasks that have no offline real data (named as such in the
docs): relation extraction, event subjects, entity linking and sentence pairs."""

import random

PEOPLE = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "赵磊", "黄敏", "周杰", "吴昊", "徐丽", "孙强"]
PLACES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "南京", "西安", "重庆", "天津", "苏州"]
BOOKS = ["追风筝的人", "平凡的世界", "白鹿原", "活着", "围城", "边城", "红高粱", "长恨歌"]
COMPANIES = ["华星科技", "恒远集团", "蓝海股份", "金石控股", "天宇电子", "东方置业", "瑞丰银行", "新港物流"]
EVENTS = {
    "财务造假": "涉嫌财务造假被立案调查",
    "提现困难": "出现提现困难，投资人排队",
    "高管负面": "高管因违规被带走调查",
}


def relation_records(count, seed=0):
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        person, place, book = rng.choice(PEOPLE), rng.choice(PLACES), rng.choice(BOOKS)
        kind = rng.randrange(3)
        if kind == 0:
            text, spo = f"{person}出生于{place}。", [(person, "出生地", place)]
        elif kind == 1:
            text, spo = f"《{book}》的作者是{person}", [(book, "作者", person)]
        else:
            text = f"{person}生于{place}，著有《{book}》"
            spo = [(person, "出生地", place), (book, "作者", person)]
        records.append(
            {"text": text, "spo_list": [{"subject": s, "predicate": p, "object": o} for s, p, o in spo]}
        )
    return records


def event_records(count, seed=0):
    rng = random.Random(seed)
    records = []
    for index in range(count):
        subject, other = rng.sample(COMPANIES, 2)
        event_type = rng.choice(sorted(EVENTS))
        if rng.random() < 0.5:
            text = f"{subject}{EVENTS[event_type]}，{other}股价上涨"
        else:
            text = f"据报道，{other}发布公告，{subject}{EVENTS[event_type]}"
        records.append({"id": str(index), "text": text, "event_type": event_type, "subject": subject})
    return records


KNOWLEDGE_BASE = {
    "1": {
        "subject": "苹果",
        "alias": [],
        "type": ["Thing"],
        "data": [{"predicate": "摘要", "object": "一种水果，味甜"}],
    },
    "2": {
        "subject": "苹果公司",
        "alias": ["苹果"],
        "type": ["Organization"],
        "data": [{"predicate": "摘要", "object": "美国科技公司，生产手机和电脑"}],
    },
    "3": {
        "subject": "小米",
        "alias": [],
        "type": ["Thing"],
        "data": [{"predicate": "摘要", "object": "一种粮食，可以煮粥"}],
    },
    "4": {
        "subject": "小米科技",
        "alias": ["小米"],
        "type": ["Organization"],
        "data": [{"predicate": "摘要", "object": "中国科技公司，生产手机"}],
    },
}
_FOOD = ["我早上吃了一个{}", "{}很好吃，又甜又脆", "妈妈买了两斤{}", "{}含有很多维生素"]
_COMPANY = ["{}发布了新款手机", "{}公司的股价上涨", "{}推出新的电脑", "{}的手机销量很好"]


def linking_records(count, seed=0):
    rng = random.Random(seed)
    records = []
    for index in range(count):
        name = rng.choice(["苹果", "小米"])
        company = rng.random() < 0.5
        template = rng.choice(_COMPANY if company else _FOOD)
        text = template.format(name)
        kb_id = {("苹果", False): "1", ("苹果", True): "2", ("小米", False): "3", ("小米", True): "4"}[
            name, company
        ]
        records.append(
            {
                "text_id": str(index),
                "text": text,
                "mention_data": [{"kb_id": kb_id, "mention": name, "offset": text.index(name)}],
            }
        )
    return records


def pair_records(count, seed=0):
    rng = random.Random(seed)
    questions = [f"{p}去{c}怎么走" for p in ("我", "你", "他") for c in PLACES] + [
        f"{b}这本书好看吗" for b in BOOKS
    ]
    records = []
    for _ in range(count):
        first = rng.choice(questions)
        if rng.random() < 0.5:
            second, label = first.replace("怎么走", "怎么去").replace("好看吗", "值得看吗"), "1"
        else:
            second, label = rng.choice([q for q in questions if q != first]), "0"
        records.append({"text_a": first, "text_b": second, "label": label})
    return records
