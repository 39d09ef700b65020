"""Printing the HTML report to PDF with headless Chromium (installed by the set-up script)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from plugins.errors import InvalidInput, opt

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")


def find_browser() -> str:
    """Path of a headless-capable Chromium; none raises with the install command."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    raise InvalidInput(f"{opt('pdf')} needs Chromium; install it (apt-get install chromium-headless-shell) "
                       f"or drop {opt('pdf')} and print the HTML from a browser", field='pdf')


def chromium_args(browser: str) -> list[str]:
    """Flags for running headless as root in a container, without network or GPU."""
    return [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-first-run", "--no-pdf-header-footer"]


def print_pdf(html_path: Path, pdf_path: Path, timeout: float = 120) -> Path:
    """Render ``html_path`` to ``pdf_path`` (written under a temporary name, then renamed)."""
    tmp = pdf_path.with_name(f".{pdf_path.name}.partial")
    cmd = chromium_args(find_browser()) + [f"--print-to-pdf={tmp}", html_path.resolve().as_uri()]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            tail = (done.stderr or "").strip().splitlines()[-1:] or ["no output"]
            raise InvalidInput(f"Chromium could not print the report to PDF ({tail[0]}); open the HTML")
        os.replace(tmp, pdf_path)
    finally:
        tmp.unlink(missing_ok=True)
    return pdf_path
