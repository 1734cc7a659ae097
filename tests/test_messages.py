"""The one message table: every label in Chinese and English, the vocabulary reused."""

from __future__ import annotations

import re

import pytest

from geo.access.roles import ROLE_LABELS, Role
from geo.core.terms import LABELS, Level
from geo.insight import coverage
from geo.publish.messages import MESSAGES, PAGES, message, translator

CJK = re.compile(r"[\u3400-\u9fff]")


def test_every_label_has_a_chinese_and_an_english_text():
    for key, pair in MESSAGES.items():
        assert len(pair) == 2 and all(isinstance(s, str) and s.strip() for s in pair), key


def test_the_pages_own_chinese_labels_are_chinese_and_english_ones_english():
    speaks_other = {"lang.other", "lang.other_hint"}  # the switch speaks the other language
    for key, (zh, en) in PAGES.items():
        if key in speaks_other:
            continue
        assert CJK.search(zh), f"{key}: no Chinese in {zh!r}"
        assert not CJK.search(en), f"{key}: Chinese in the English {en!r}"


def test_the_vocabulary_comes_from_its_own_modules_not_a_copy():
    assert message("term.grid2") == LABELS[Level.GRID2][0]
    assert message("term.sector", "en") == LABELS[Level.SECTOR][1]
    assert message("role.official") == ROLE_LABELS[Role.OFFICIAL][0]
    for key, zh, en in coverage.METRICS:
        assert (message(f"metric.{key}"), message(f"metric.{key}", "en")) == (zh, en)
    for key, (zh, en, _metric) in coverage.FLAGS.items():
        assert (message(f"flag.{key}"), message(f"flag.{key}", "en")) == (zh, en)
    assert not set(PAGES) & {k for k in MESSAGES if k.split(".")[0] in ("term", "role")}


def test_chinese_is_the_default_and_fields_are_filled():
    assert message("home.welcome", name="李") == "李，您好"
    assert translator("en")("coverage.shown", shown=3, total=22) == "3 of 22 units shown"


def test_an_unknown_label_is_an_error_not_a_blank():
    with pytest.raises(KeyError):
        message("home.no_such_label")
