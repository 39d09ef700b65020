"""``robustune report``: one self-contained HTML file that a real browser renders without broken
images or console errors, and a PDF that renders to pages."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from explain.pdf import chromium_args, find_browser
from tests.conftest import CliResult
from tests.e2e.test_errors import assert_error

Cli = Callable[..., CliResult]
SECTIONS = ["Model card", "Holdout metrics", "Trusting each prediction", "Per-class results", "Groups",
            "Robustness", "Correct examples", "Misclassified examples", "Which explanation to believe",
            "Clean versus adversarial"]
PROBE = """<script>window.addEventListener('load', () => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length;
  document.title = 'images=' + document.images.length + ' broken=' + broken; });</script>"""


def browser_check(html: Path, shot: Path) -> tuple[int, int, str]:
    """(images, broken images, console error lines) as headless Chromium sees the page; saves a
    screenshot."""
    probe = html.with_name("probe.html")
    probe.write_text(html.read_text().replace("</body>", PROBE + "</body>"))
    base = chromium_args(find_browser()) + ["--enable-logging=stderr", "--v=0"]
    dom = subprocess.run(base + ["--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120, check=True)
    found = re.search(r"<title>images=(\d+) broken=(\d+)</title>", dom.stdout)
    assert found, dom.stdout[:500]
    subprocess.run(base + ["--window-size=1200,2400", f"--screenshot={shot}", html.as_uri()],
                   capture_output=True, text=True, timeout=120, check=True)
    lines = dom.stderr.splitlines()
    errors = "\n".join(line for line in lines if "CONSOLE" in line and "error" in line.lower())
    return int(found[1]), int(found[2]), errors


def test_image_report_html_and_pdf(cli: Cli, stripes_bundle: Path, image_folder: Path,
                                   tmp_path: Path) -> None:
    files = sorted(p.relative_to(image_folder).as_posix() for p in image_folder.rglob("*.*"))
    groups = tmp_path / "groups.csv"
    groups.write_text("path,group\n" + "".join(f"{f},{'studio' if i % 3 else 'field'}\n"
                                                 for i, f in enumerate(files)))
    audit = tmp_path / "audit"
    assert cli("audit", stripes_bundle, "--data", f"imagefolder:{image_folder}", "--split", "all",
               "--attacks", "fgsm,pgd", "--eps", "4/255,16/255", "--n", "16", "--steps", "3",
               "--out", audit).code == 0
    out = tmp_path / "report.html"
    r = cli("report", stripes_bundle, "--data", f"imagefolder:{image_folder}", "--audit", audit, "--groups",
            groups, "--out", out, "--pdf", "--n-steps", "8", "--gallery", "2")
    assert r.code == 0, r.err
    page = out.read_text()
    for title in SECTIONS:
        assert f"<h2>{title}</h2>" in page, title
    assert "demographic parity" in page and "studio" in page
    assert "<title>resnet18 (random init) on imagefolder:stripes</title>" in page  # the model and the data
    assert not re.search(r"(src|href)=[\"']https?:", page)  # nothing fetched from the network
    srcs = re.findall(r"<img src=\"([^\"]+)\"", page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    images, broken, errors = browser_check(out, tmp_path / "report.png")
    assert images == len(srcs) and broken == 0 and errors == ""
    assert (tmp_path / "report.png").stat().st_size > 10_000
    pdf = tmp_path / "report.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / "page")], check=True,
                   timeout=120)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 2 and all(p.stat().st_size > 1000 for p in pages)
    again = cli("report", stripes_bundle, "--data", f"imagefolder:{image_folder}", "--out", out)
    assert_error(again, "already exists", "--overwrite")


def test_text_report_with_group_column(cli: Cli, tmp_path: Path) -> None:
    from tests.conftest import NEGATIVE, POSITIVE

    csv = tmp_path / "g.csv"
    rows = [f'"{t} ({r})",{lab},{"young" if (r + i) % 2 else "old"}' for r in range(4)
            for lab, texts in (("pos", POSITIVE), ("neg", NEGATIVE)) for i, t in enumerate(texts)]
    csv.write_text("text,label,age\n" + "\n".join(rows) + "\n")
    bundle = tmp_path / "b"
    assert cli("train", "--data", f"csv:{csv}", "--backbone", "bert", "--epochs", "20", "--lr", "3e-2",
               "--out", bundle, "--quiet").code == 0
    audit = tmp_path / "audit"
    assert cli("audit", bundle, "--data", f"csv:{csv}", "--split", "all", "--n", "8", "--steps", "3",
               "--eps", "0.1,0.5", "--out", audit).code == 0
    out = tmp_path / "r.html"
    r = cli("report", bundle, "--data", f"csv:{csv}", "--audit", audit, "--group-column", "age", "--out", out,
            "--n-steps", "8")
    assert r.code == 0, r.err
    page = out.read_text()
    for title in ("Groups", "Robustness", "Correct examples", "Which explanation to believe",
                  "Clean versus adversarial"):
        assert f"<h2>{title}</h2>" in page, title
    assert "attention-rollout" in page and "deletion auc random" in page
    assert "<td>sentence-transformers/all-MiniLM-L6-v2 (packaged)</td>" in page  # the card's real identity
    assert page.count("<span title=") >= 10 and "young" in page
    assert_error(cli("report", bundle, "--data", f"csv:{csv}", "--group-column", "gender", "--out",
                     tmp_path / "x.html"), "lacks column(s) gender")
    assert_error(cli("report", bundle, "--data", f"csv:{csv}", "--audit", tmp_path, "--out",
                     tmp_path / "y.html"), "has no audit.json")
    assert_error(cli("report", bundle, "--data", f"csv:{csv}", "--gallery-method", "gradcam", "--out",
                     tmp_path / "z.html"), "--gallery-method gradcam explains image, not text")
    assert_error(cli("report", bundle, "--data", f"csv:{csv}", "--gallery-method", "gradkam", "--out",
                     tmp_path / "z.html"), "gradkam")
    assert not any((tmp_path / f"{n}.html").exists() for n in "xyz")
