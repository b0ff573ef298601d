"""The generated part of the labelled questions (`generated.tsv`): questions as clients type them — short,
colloquial, with typos and mixed Chinese/English terms — built by a seeded generator from the per-field
words of `lexicon` and the sentence frames below. Same seed, same lexicon → the same questions, byte for
byte (`counsel classifier train` writes them; a test fails when the committed file is stale)."""

from __future__ import annotations

import random
from collections.abc import Iterable

from services.legal_fields import LEGAL_FIELDS
from services.legal_fields.classifier.lexicon import LEXICON, FieldWords
from services.legal_fields.classifier.model import Example

SEED = 23
# Questions per field and kind: clients mostly describe their situation, often ask a short question or
# name a term, sometimes in English.
QUOTA = {"situation": 300, "question": 200, "term": 100, "english": 80}

TERM_FRAMES = (
    "{}怎么算",
    "{}有什么规定",
    "关于{}的问题",
    "想咨询一下{}",
    "{}方面的问题想问下律师",
    "{}相关的问题",
    "{}纠纷怎么处理",
    "请问{}怎么处理",
    "{}要注意什么",
    "问下{}的事",
    "{}有啥风险",
    "{}的法律问题",
    "{}咋弄",
    "{}这块有啥要注意的",
    "问个{}的问题",
    "{}咋回事",
)
SITUATION_FRAMES = (
    "{}怎么办",
    "{}，怎么办？",
    "{}，该怎么处理",
    "{}，能起诉吗",
    "{}合法吗",
    "{}，我该怎么维权",
    "{}，能要求赔偿吗",
    "{}咋办",
    "{}怎么弄",
    "{}，有什么办法",
    "{}，律师能帮忙吗",
    "{}，这种情况怎么处理",
    "{}，要承担什么责任",
    "请问{}，怎么办",
    "{}，在线等，急",
    "{}，想咨询下",
    "{}咋整",
    "{}，怎么弄啊",
    "{}，合法不",
    "{}，我们该咋办",
    "{}。。。怎么办",
    "{}，有没有风险",
    "{}，能不能打官司",
    "{}，要赔钱吗",
    "{}，对方也不理我们",
)
PERSONAS = (
    "",
    "",
    "",
    "我们是一家小公司，",
    "你好，",
    "律师您好，",
    "我朋友问的，",
    "急！",
    "我们是一家startup，",
    "boss让我问下，",
    "hi 律师，",
    "我是HR，",
    "我们是做外贸的，",
    "开了家小店，",
    "我们是个工厂，",
    "老板问下，",
    "在吗？",
)
QUESTION_PREFIXES = (
    "",
    "",
    "请问",
    "律师你好，",
    "你好，",
    "想问下",
    "咨询一下，",
    "问下",
    "急！",
    "HR问下，",
    "在吗，",
    "求助，",
    "老板让我问，",
)
QUESTION_SUFFIXES = ("？", "?", "", "呢？", "啊", "。", "？？", "呀", "，谢谢", "，急")
ENGLISH_PREFIXES = ("", "", "Hi, ", "Hello, ", "Quick question: ", "Please help: ")
ENGLISH_SUFFIXES = ("", "?", ".", " thanks", " - urgent")
# Slips of a pinyin keyboard: the right sound, the wrong characters.
TYPOS = {
    "赔偿": "陪偿",
    "辞退": "辞推",
    "违约": "为约",
    "合同": "和同",
    "社保": "设保",
    "劳动": "劳东",
    "商标": "商表",
    "专利": "专例",
    "发票": "发漂",
    "起诉": "起述",
    "房东": "房冬",
    "押金": "压金",
    "离婚": "里婚",
    "股东": "股冬",
    "注册": "注侧",
    "仲裁": "仲栽",
    "补偿": "补尝",
    "加班费": "加班废",
    "执行": "执形",
    "利息": "利习",
    "贷款": "代款",
    "侵权": "侵全",
    "股份": "股分",
    "判决": "判绝",
    "拖欠": "拖歉",
    "注销": "注消",
    "公积金": "公基金",
    "抵押": "抵压",
    "租金": "祖金",
    "版权": "版全",
    "税务": "税物",
    "离职": "离值",
}
TYPO_RATE = 0.2


def _with_typo(text: str, rng: random.Random) -> str:
    words = [w for w in TYPOS if w in text]
    if not words or rng.random() >= TYPO_RATE:
        return text
    word = rng.choice(words)
    return text.replace(word, TYPOS[word], 1)


def _candidates(words: FieldWords) -> dict[str, list[str]]:
    """Every question the frames can make of one field's words, by kind, in a fixed order."""
    situation = [
        persona + frame.format(s)
        for s in words.situations
        for frame in SITUATION_FRAMES
        for persona in PERSONAS
    ]
    question = [p + q + s for q in words.questions for p in QUESTION_PREFIXES for s in QUESTION_SUFFIXES]
    term = [frame.format(t) for t in words.terms for frame in TERM_FRAMES]
    english = [
        p + (e[0].lower() + e[1:] if p else e).rstrip("?") + s
        for e in words.english
        for p in ENGLISH_PREFIXES
        for s in ENGLISH_SUFFIXES
    ]
    return {"situation": situation, "question": question, "term": term, "english": english}


def generate(exclude: Iterable[str] = (), seed: int = SEED) -> list[Example]:
    """`QUOTA` questions of each kind per field, never one of `exclude` (the hand-written questions) and
    never the same text twice. Deterministic for a seed."""
    rng = random.Random(seed)
    seen = set(exclude)
    examples = []
    for field in LEGAL_FIELDS:
        for kind, candidates in _candidates(LEXICON[field]).items():
            rng.shuffle(candidates)
            taken = 0
            for candidate in candidates:
                text = candidate if kind == "english" else _with_typo(candidate, rng)
                if text in seen:
                    continue
                seen.add(text)
                examples.append(Example(field, text))
                taken += 1
                if taken == QUOTA[kind]:
                    break
    return examples
