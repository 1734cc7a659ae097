"""Fake personal data: Chinese names, phone numbers and ID-card numbers with valid checksums.

Nothing here belongs to a real person; every row the seed writes is flagged `synthetic`.
"""

from __future__ import annotations

import numpy as np

# the most common surnames, roughly by frequency
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
_SURNAME_WEIGHTS = 1.0 / (np.arange(len(SURNAMES)) + 8.0)
GIVEN = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂英华玉萍红玲兰飞鹏辉婷雪琳晨宇浩然子涵欣怡梓轩俊杰文博佳琪思雨嘉怡"
)
MOBILE_PREFIXES = [
    "130",
    "131",
    "133",
    "135",
    "136",
    "138",
    "139",
    "150",
    "151",
    "153",
    "158",
    "173",
    "177",
    "180",
    "181",
    "186",
    "187",
    "189",
    "199",
]
#: ISO 7064 MOD 11-2 weights and check characters of the 18-digit resident ID
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = "10X98765432"


def person_names(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` names: a common surname and one or two given characters."""
    p = _SURNAME_WEIGHTS / _SURNAME_WEIGHTS.sum()
    surname = rng.choice(SURNAMES, size=n, p=p)
    first = rng.choice(GIVEN, size=n)
    second = np.where(rng.random(n) < 0.6, rng.choice(GIVEN, size=n), "")
    return np.char.add(np.char.add(surname, first), second)


def phone_numbers(rng: np.random.Generator, n: int) -> np.ndarray:
    prefix = rng.choice(MOBILE_PREFIXES, size=n)
    rest = rng.integers(0, 10**8, size=n)
    return np.char.add(prefix, np.char.zfill(rest.astype(str), 8))


def id_check_char(first17: str) -> str:
    """The check character of an 18-digit resident ID number (GB 11643)."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def id_numbers(
    region: str, birth: np.ndarray, male: np.ndarray, rng: np.random.Generator
) -> list[str]:
    """ID numbers: region code, birth date (datetime64[D]), sequence (odd for men), check."""
    seq = rng.integers(0, 500, size=len(birth)) * 2 + male.astype(int)
    dates = np.datetime_as_string(birth, unit="D")
    out = []
    for d, s in zip(dates, seq, strict=True):
        first17 = f"{region}{d.replace('-', '')}{s:03d}"
        out.append(first17 + id_check_char(first17))
    return out
