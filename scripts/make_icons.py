"""Draw the field app's icons (static/web/icons/icon-192.png, icon-512.png) with Pillow:
the brand green, a 3 × 3 grid and 网格 in the WenQuanYi Micro Hei font (Debian's
fonts-wqy-microhei). Re-run after changing them: `.venv/bin/python scripts/make_icons.py`."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
OUT = Path(__file__).resolve().parent.parent / "static" / "web" / "icons"


def draw(size: int) -> Image.Image:
    image = Image.new("RGB", (size, size), "#b0281c")
    pen = ImageDraw.Draw(image)
    margin, step = size // 8, (size - size // 4) // 3
    for k in range(4):  # the grid lines
        at = margin + k * step
        pen.line([(margin, at), (size - margin, at)], fill="#f3c9c4", width=max(2, size // 96))
        pen.line([(at, margin), (at, size - margin)], fill="#f3c9c4", width=max(2, size // 96))
    font = ImageFont.truetype(FONT, size // 3)
    pen.text((size / 2, size / 2), "网格", font=font, fill="white", anchor="mm")
    return image


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        draw(size).save(OUT / f"icon-{size}.png", optimize=True)
