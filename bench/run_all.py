"""Run every benchmark in turn (each writes bench/results/NAME.{json,md}), then copy the
results into the README between its bench markers.

Run: .venv/bin/python bench/run_all.py [bench_x.py ...]      (--readme: only refresh the README)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
BENCHES = ["bench_cache.py", "bench_transfer.py", "bench_text.py", "bench_image.py", "bench_pgd.py",
           "bench_adversarial.py", "bench_text_attack.py", "bench_explain.py", "bench_zoo_digits.py",
           "bench_zoo_text.py", "bench_lora.py", "bench_service.py", "bench_probe.py", "bench_defaults.py",
           "bench_precision.py", "bench_scale.py", "bench_startup.py", "bench_trust.py",
           "bench_shortcuts.py", "bench_labels.py", "bench_baselines.py",
           "bench_certify.py"]
ORDER = ["image_finetune", "text_finetune", "linear_probe", "defaults", "precision", "feature_cache",
         "transfer", "pgd_throughput", "audit_curve",
         "adversarial_training", "text_attack", "explain_throughput", "zoo_digits", "zoo_text",
         "lora", "service_predict", "scale", "startup", "trust", "shortcuts", "labels", "baselines",
         "certify", "gpu_check",
         "gpu_check_cpu_logic"]
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def update_readme() -> None:
    """Replace the README's bench section with the current results files."""
    from common import render_markdown

    parts = [render_markdown(json.loads((HERE / "results" / f"{name}.json").read_text())).strip()
             for name in ORDER if (HERE / "results" / f"{name}.json").is_file()]
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(head + START + "\n" + "\n\n".join(parts) + "\n" + END + tail)


if __name__ == "__main__":
    args = sys.argv[1:]
    failed = []
    if args != ["--readme"]:
        chosen = args or BENCHES
        failed = [b for b in chosen if subprocess.run([sys.executable, b], cwd=HERE).returncode != 0]
    update_readme()
    sys.exit(1 if failed else 0)
