"""The one stylesheet parses: a block left open swallows every rule after it (a merge once
left the admin's phone rules open, and the case desk's and evaluation's rules applied only
on phones)."""

from pathlib import Path

STYLESHEET = Path(__file__).resolve().parent.parent / "static" / "web" / "gridmap.css"


def test_every_block_of_the_stylesheet_is_closed_before_the_next_section_opens():
    depth, opened = 0, []
    for number, line in enumerate(STYLESHEET.read_text(encoding="utf-8").splitlines(), 1):
        if line.startswith("/*") and depth:
            opened.append(f"line {number}: a section starts inside an open block")
        for char in line:
            depth += {"{": 1, "}": -1}.get(char, 0)
            assert depth >= 0, f"line {number}: a '}}' closes nothing"
    assert opened == [] and depth == 0, opened or f"{depth} block(s) never closed"
