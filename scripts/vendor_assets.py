"""Vendor the map pages' JS/CSS/fonts from the npm registry into static/maps/vendor/.

    .venv/bin/python scripts/vendor_assets.py        # or: make vendor

Re-runnable: it empties static/maps/vendor/, runs `npm pack NAME@VERSION` for every package
pinned in geo/maps/assets.py (in a temporary folder), copies the listed files with their
licence, makes the few derived files, checks that no vendored CSS still loads anything from
another host, and writes manifest.json (versions, npm integrity, licences, local notes).
Needs `npm` (Debian: apt-get install npm). The result is committed; pages never need npm.
"""

from __future__ import annotations

import glob
import importlib.metadata
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.maps.assets import (  # noqa: E402
    CHART_ASSETS,
    DOCS_ASSETS,
    EDITOR_ASSETS,
    FOLIUM_ASSETS,
    PACKAGES,
    VENDOR_DIR,
    VENDOR_URL,
)

#: CSS url(...) pointing at another host (http:, https: or protocol-relative)
EXTERNAL_URL = re.compile(r"url\(\s*['\"]?(?:https?:)?//", re.IGNORECASE)


REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
EMPTY_SVG = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E"


def npm_pack(spec: str, into: Path) -> tuple[Path, dict]:
    """Download one package tarball with `npm pack`; returns its folder and npm's record."""
    out = subprocess.run(
        ["npm", "pack", spec, "--json", "--pack-destination", str(into)],
        check=True,
        capture_output=True,
        text=True,
        cwd=into,
    )
    record = json.loads(out.stdout)[0]
    unpacked = into / record["filename"].removesuffix(".tgz")
    with tarfile.open(into / record["filename"]) as tar:
        tar.extractall(unpacked, filter="data")
    return unpacked / "package", record


def glyphicons_css(bootstrap3: Path) -> str:
    """Only the Glyphicons rules of Bootstrap 3's stylesheet (font face and icon classes)."""
    css = (bootstrap3 / "dist/css/bootstrap.css").read_text(encoding="utf-8")
    start = css.index('@font-face {\n  font-family: "Glyphicons Halflings"')
    end = css.index("\n* {\n", start)
    header = (
        "/* Glyphicons rules of Bootstrap v3.4.1 (MIT, see LICENSE), "
        "extracted by scripts/vendor_assets.py */\n"
    )
    return header + css[start:end].strip() + "\n"


def rotate_css() -> str:
    """Folium's `.fa-rotate-N` classes (0-359 degrees) for rotated awesome-marker icons."""
    rule = (
        ".fa-rotate-{0}{{-ms-transform:rotate({0}deg);"
        "-webkit-transform:rotate({0}deg);transform:rotate({0}deg)}}"
    )
    return "\n".join(rule.format(n) for n in range(360)) + "\n"


def derived(package, source: Path, target: Path) -> None:
    """The local files some packages need beyond their own (see each package's note)."""
    if package.npm == "leaflet.heat":
        import folium

        patched = Path(folium.__file__).parent / "templates" / "leaflet_heat.min.js"
        shutil.copyfile(patched, target / "leaflet-heat.js")
    elif package.npm == "bootstrap" and package.version.startswith("3."):
        (target / "dist/css").mkdir(parents=True, exist_ok=True)
        (target / "dist/css/glyphicons.css").write_text(glyphicons_css(source), encoding="utf-8")
    elif package.npm == "echarts":
        shutil.copyfile(source / "NOTICE", target / "NOTICE")
    elif package.npm == "leaflet.awesome-markers":
        (target / "dist/leaflet.awesome.rotate.min.css").write_text(rotate_css(), encoding="utf-8")
    elif package.npm == "redoc":
        bundle = target / "bundles/redoc.standalone.js"
        # the "API docs by Redocly" footer fetches its logo from a CDN: an empty local SVG
        text = bundle.read_text(encoding="utf-8").replace(REDOC_LOGO, EMPTY_SVG)
        bundle.write_text(text, encoding="utf-8")
    elif package.npm == "leaflet-timedimension":
        css = target / "dist/leaflet.timedimension.control.css"
        fonts = "../../bootstrap-3.4.1/dist/fonts/"
        text = re.sub(
            r"//netdna\.bootstrapcdn\.com/bootstrap/3\.0\.0/fonts/", fonts, css.read_text()
        )
        css.write_text(text, encoding="utf-8")


def vendor() -> dict:
    if shutil.which("npm") is None:
        sys.exit("vendor_assets: npm is missing (Debian: apt-get install npm)")
    if VENDOR_DIR.exists():
        shutil.rmtree(VENDOR_DIR)
    VENDOR_DIR.mkdir(parents=True)
    records = []
    with tempfile.TemporaryDirectory(prefix="gridmap-vendor-") as tmp:
        for package in PACKAGES:
            spec = f"{package.npm}@{package.version}"
            print(f"npm pack {spec}", file=sys.stderr)
            source, npm = npm_pack(spec, Path(tmp))
            target = VENDOR_DIR / package.folder
            copied = []
            for pattern in package.files:
                matches = sorted(glob.glob(pattern, root_dir=source))
                if not matches:
                    sys.exit(f"vendor_assets: {spec} has no {pattern}")
                for rel in matches:
                    (target / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source / rel, target / rel)
                    copied.append(rel)
            target.mkdir(parents=True, exist_ok=True)
            declared = json.loads((source / "package.json").read_text()).get("license")
            licence = declared or f"see {package.licence}"
            shutil.copyfile(source / package.licence, target / Path(package.licence).name)
            if package.licence == "package.json":  # no licence text in the package
                (target / "LICENCE.txt").write_text(
                    f"{spec} declares the licence {licence} in its package.json and ships no "
                    "licence text.\n",
                    encoding="utf-8",
                )
            derived(package, source, target)
            records.append(
                {
                    "npm": package.npm,
                    "version": package.version,
                    "folder": package.folder,
                    "integrity": npm["integrity"],
                    "licence": licence,
                    "licence_file": Path(package.licence).name,
                    "files": sorted(
                        str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()
                    ),
                    "note": package.note,
                }
            )
    check(records)
    manifest = {
        "about": "Vendored by scripts/vendor_assets.py from the npm registry; do not edit by hand.",
        "folium": importlib.metadata.version("folium"),
        "packages": records,
        "folium_assets": FOLIUM_ASSETS,
        "editor_assets": EDITOR_ASSETS,
        "docs_assets": DOCS_ASSETS,
        "chart_assets": CHART_ASSETS,
    }
    (VENDOR_DIR / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return manifest


def check(records: list[dict]) -> None:
    """Every asset Folium and the editor are pointed at exists, and no vendored CSS loads
    from another host."""
    missing = [
        url
        for url in [
            *FOLIUM_ASSETS.values(),
            *EDITOR_ASSETS.values(),
            *DOCS_ASSETS.values(),
            *CHART_ASSETS.values(),
        ]
        if not (VENDOR_DIR / url.removeprefix(VENDOR_URL + "/")).is_file()
    ]
    if missing:
        sys.exit(f"vendor_assets: not vendored: {', '.join(missing)}")
    for css in VENDOR_DIR.rglob("*.css"):
        if EXTERNAL_URL.search(css.read_text(encoding="utf-8")):
            sys.exit(f"vendor_assets: {css.relative_to(ROOT)} still loads from another host")


if __name__ == "__main__":
    result = vendor()
    total = sum(p.stat().st_size for p in VENDOR_DIR.rglob("*") if p.is_file())
    where = VENDOR_DIR.relative_to(ROOT)
    print(f"vendored {len(result['packages'])} packages into {where} ({total / 1e6:.1f} MB)")
