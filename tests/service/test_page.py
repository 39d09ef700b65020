"""The web page in a real browser (Playwright driving Debian's Chromium, no browser download): sign
in, upload a dataset, submit a run from the form, watch it, browse the model, open its report,
cancel a job, set an alias. No console errors; screenshots go to build/screenshots/."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from tests.service.conftest import Server, digits_zip

REPO = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("ROBUSTUNE_SCREENSHOTS", REPO / "build" / "screenshots"))


@pytest.fixture()
def browser():  # noqa: ANN201 - Playwright's Browser
    playwright_api = pytest.importorskip("playwright.sync_api")
    from explain.pdf import find_browser

    try:
        executable = find_browser()
    except Exception as exc:  # noqa: BLE001 - no Chromium on this machine
        pytest.skip(f"no Chromium ({exc})")
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox", "--disable-gpu",
                                                                "--disable-dev-shm-usage", "--no-first-run"])
        yield b
        b.close()


def test_page_flow_in_a_real_browser(browser, tmp_path: Path) -> None:  # noqa: ANN001
    SHOTS.mkdir(parents=True, exist_ok=True)
    srv = Server(tmp_path / "home", None, 1).start()
    zipped = tmp_path / "digits.zip"
    zipped.write_bytes(digits_zip(60))
    errors: list[str] = []
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(f"page: {e}"))
        page.set_default_timeout(30_000)

        page.goto(srv.url + "/")
        page.fill("#token", "rt_wrong")
        page.click("#signin")
        assert "unknown or revoked" in page.inner_text("p.error")
        page.fill("#token", srv.token("write", "page-user"))
        page.click("#signin")
        page.wait_for_selector("#run-form")
        assert "page-user" in page.inner_text("header")
        page.screenshot(path=str(SHOTS / "1-signed-in.png"), full_page=True)

        page.set_input_files("#upload-file", str(zipped))
        page.fill("#upload-name", "digits-upload")
        page.click("#upload-submit")
        # the server's first upload imports the data stack; with the other test worker training beside it
        # on 2 cores that once took over 30 s
        page.wait_for_selector("#notice:has-text('uploaded digits-upload')", timeout=90_000)
        page.wait_for_selector("#datasets td:has-text('digits-upload')")
        page.screenshot(path=str(SHOTS / "2-uploaded.png"), full_page=True)

        page.select_option("#run-data", "rotten-tomatoes")
        assert page.input_value("#run-model") == "bert"  # a model with packaged weights for the data
        page.select_option("#run-data", "digits")
        assert page.input_value("#run-model") == "efficientnet_lite0"
        dataset = page.get_attribute("#datasets tr:has(td:has-text('digits-upload'))", "data-id")
        page.select_option("#run-data", dataset)
        page.select_option("#run-model", "cnn")
        page.fill("#run-epochs", "2")
        page.check("input[name=attacks][value=fgsm]")
        page.fill("#run-name", "page-digits")
        page.click("#run-submit")
        page.wait_for_selector("#notice:has-text('submitted')")
        page.wait_for_selector("#jobs tr[data-state=RUNNING]", timeout=120_000)
        page.screenshot(path=str(SHOTS / "3-running.png"), full_page=True)
        page.wait_for_selector("#models tr[data-model=page-digits]", timeout=300_000)  # the page reloads
        row = page.inner_text("#models tr[data-model=page-digits]")
        assert "%" in row, row  # test accuracy shown
        ece = page.inner_text("#models tr[data-model=page-digits] td.ece")
        assert 0 <= float(ece) <= 1, ece  # the holdout's calibrated ECE
        assert "(90.0%)" in page.inner_text("#models tr[data-model=page-digits] td.coverage")
        page.screenshot(path=str(SHOTS / "4-model.png"), full_page=True)

        # try the model: each answer shows its prediction set and whether the input looks familiar
        images = _images(tmp_path)
        page.select_option("#predict-model", "page-digits")
        assert page.is_hidden("#predict-text") and page.is_visible("#predict-files")
        page.set_input_files("#predict-files", [str(p) for p in images])
        page.click("#predict-submit")
        page.wait_for_selector("#predictions tbody tr")
        shown = page.locator("#predictions tbody tr")
        assert shown.count() == len(images)
        answer = httpx.post(srv.url + "/v1/models/page-digits/predict/files",
                            headers={"Authorization": f"Bearer {srv.token('read', 'api')}"},
                            files=[("files", (p.name, p.read_bytes(), "image/png")) for p in images]).json()
        for i in range(len(images)):
            set_shown = shown.nth(i).locator("td.set .pill").all_inner_texts()
            assert set_shown == answer["sets"][i] and set_shown, (set_shown, answer)
            badge = shown.nth(i).locator(".badge").inner_text()
            assert badge == ("unfamiliar" if answer["unfamiliar"][i] else "familiar")
        assert "holds the true label 90% of the time" in page.inner_text("#predict-note")
        page.screenshot(path=str(SHOTS / "4b-predictions.png"), full_page=True)

        with page.expect_popup() as popup:
            page.click("#models tr[data-model=page-digits] a.report")
        report = popup.value
        report.wait_for_load_state()
        assert "robust" in report.content().lower()
        report.screenshot(path=str(SHOTS / "5-report.png"))
        report.close()

        page.select_option("#run-data", "digits")
        page.select_option("#run-model", "cnn")
        page.fill("#run-epochs", "300")
        page.fill("#run-name", "long")
        page.click("#run-submit")
        page.wait_for_selector("#jobs tr[data-state=RUNNING] button.cancel", timeout=120_000)
        page.click("#jobs tr[data-state=RUNNING] button.cancel")
        page.wait_for_selector("#jobs tr[data-state=CANCELLED]", timeout=60_000)  # a loaded CI machine
        page.screenshot(path=str(SHOTS / "6-cancelled.png"), full_page=True)

        page.once("dialog", lambda d: d.accept("production"))
        page.click("#models tr[data-model=page-digits] button.alias")
        page.wait_for_selector("#models tr[data-model=page-digits] .pill:has-text('production')")
        page.screenshot(path=str(SHOTS / "7-alias.png"), full_page=True)
        assert not errors, errors
    finally:
        srv.stop()


def _images(folder: Path) -> list[Path]:
    """Two digits the model was trained on and one image of noise, as PNG files."""
    import numpy as np
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    out = []
    for i, pixels in enumerate([digits.images[1] * 255 / 16, digits.images[2] * 255 / 16,
                                np.random.default_rng(0).integers(0, 256, (8, 8))]):
        path = folder / f"input-{i}.png"
        Image.fromarray(np.rint(pixels).astype(np.uint8)).save(path)
        out.append(path)
    return out
