"""A report on classes named in Cyrillic, Greek, CJK, Arabic and Hebrew: every label's glyphs exist in
the figures (matplotlib's fallback list), the page (Chromium's fonts, asked over the DevTools protocol)
and the PDF (its embedded fonts); right-to-left names read right to left. Screenshots of the page, its
gallery and the PDF's first page go to build/screenshots/."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import run_subprocess

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("ROBUSTUNE_SCREENSHOTS", REPO / "build" / "screenshots"))
ARABIC = "حصان عربي"  # two words: the first must be drawn to the right of the second
CLASSES = ["кошка", "σκύλος", "鳥類", ARABIC, "סוס"]


def pattern(kind: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Five textures a small CNN tells apart: stripes across, stripes down, checks, diagonals, rings.

    Shape: (size, size, 3) uint8.
    """
    r, c = np.mgrid[:size, :size]
    period = int(rng.integers(3, 6))
    shift = int(rng.integers(0, period))
    base = [(r + shift) % period < period / 2, (c + shift) % period < period / 2,
            ((r // period) + (c // period)) % 2 == 0, (r + c + shift) % period < period / 2,
            np.hypot(r - size / 2, c - size / 2).astype(int) % period < period / 2][kind]
    img = 0.65 * base[..., None] + 0.35 * rng.random((size, size, 3))
    return (img * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def scripts_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scripts") / "animals"
    rng = np.random.default_rng(0)
    for kind, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for i in range(24):
            Image.fromarray(pattern(kind, 32, rng)).save(root / name / f"{i:02d}.png")
    return root


def covering_fonts() -> list[Path]:
    """The font files of the families the figures and the page name, in order."""
    from matplotlib import font_manager

    from plugins.figures import font_families

    return [Path(font_manager.findfont(font_manager.FontProperties(family=f), fallback_to_default=False))
            for f in font_families()]


def cmap(path: Path) -> set[int]:
    """The code points a font file (or the first font of a collection) has glyphs for."""
    from fontTools.ttLib import TTCollection, TTFont

    font = TTCollection(str(path)).fonts[0] if path.suffix == ".ttc" else TTFont(str(path))
    return set(font.getBestCmap())


@pytest.mark.slow
def test_report_draws_every_script(scripts_folder: Path, tmp_path: Path) -> None:
    playwright_api = pytest.importorskip("playwright.sync_api")
    from explain.pdf import find_browser

    # the fonts: every character of every class name has a glyph in one of the listed families
    covered = set().union(*(cmap(p) for p in covering_fonts()))
    missing = sorted({ch for name in CLASSES for ch in name if ch != " " and ord(ch) not in covered})
    assert not missing, f"no font covers {missing}: run make setup (Debian's Noto fonts)"

    out = tmp_path / "animals-cnn"
    r = run_subprocess("run", "--data", f"imagefolder:{scripts_folder}", "--model", "cnn", "--epochs", "6",
                       "--attacks", "fgsm", "--eps", "8/255", "--n", "20", "--gallery", "2", "--n-steps", "8",
                       "--quality-n", "4", "--pdf", "--out", str(out), "--quiet",
                       env={"PYTHONWARNINGS": "always"})
    assert r.code == 0, r.err
    # matplotlib warns "Glyph ... missing from font(s)" for every character it cannot draw
    assert "missing from font" not in r.err, r.err
    html, pdf = out / "report.html", out / "report.pdf"
    page_text = html.read_text()
    assert "<title>cnn (trained from scratch) on imagefolder:animals: run animals-cnn</title>" in page_text
    for name in CLASSES:
        assert name in page_text

    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_browser(),
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1100, "height": 1400})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(html.as_uri())
        page.screenshot(path=str(SHOTS / "report-scripts.png"))
        page.locator("h2", has_text="Misclassified examples").scroll_into_view_if_needed()
        page.locator("section", has=page.locator("h2", has_text="Correct examples")).screenshot(
            path=str(SHOTS / "report-gallery.png"))
        # the fonts Chromium drew each class name's cell with: all from the covering list
        cdp = page.context.new_cdp_session(page)
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
        used: dict[str, set[str]] = {}
        for name in CLASSES:
            marked = page.evaluate("""name => {
                const cells = [...document.querySelectorAll('td')]
                    .filter(td => td.textContent.trim() === name);
                cells.forEach(td => td.setAttribute('data-label', name));
                return cells.length; }""", name)
            assert marked >= 1, name
            query = {"nodeId": root, "selector": "td[data-label]"}
            for node in cdp.send("DOM.querySelectorAll", query)["nodeIds"]:
                fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
                used.setdefault(name, set()).update(f["familyName"] for f in fonts)
            page.evaluate("() => document.querySelectorAll('td[data-label]').forEach(td => "
                          "td.removeAttribute('data-label'))")
        from plugins.figures import FONT_FAMILIES

        for name, families in used.items():
            assert families and families <= set(FONT_FAMILIES), (name, families)
        assert any("Arabic" in f for f in used[ARABIC]) and any("CJK" in f for f in used["鳥類"])
        # right to left: the Arabic name's first word lies to the right of its second
        first_right_of_second = page.evaluate("""name => {
            const td = [...document.querySelectorAll('td')].find(td => td.textContent.trim() === name);
            const text = td.firstChild, split = name.indexOf(' ');
            const box = (a, b) => { const r = document.createRange(); r.setStart(text, a); r.setEnd(text, b);
                                    return r.getBoundingClientRect(); };
            return box(0, split).left > box(split + 1, name.length).left; }""", ARABIC)
        assert first_right_of_second
        assert errors == []
        browser.close()

    # the PDF: the Noto families are embedded (CJK, with CFF outlines, as Type 3 glyphs) and each name
    # extracts back to its characters
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert "NotoSansArabic" in fonts and "NotoSansHebrew" in fonts, fonts
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for name in ("кошка", "σκύλος", "鳥類"):
        assert name in text, name
    first_page = ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(SHOTS / "report-pdf")]
    subprocess.run(first_page, check=True, timeout=120)
    assert any(SHOTS.glob("report-pdf*.png"))
