"""Run every benchmark in turn (each writes bench/results/NAME.{json,md})."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHES = ["bench_cache.py", "bench_transfer.py", "bench_text.py", "bench_image.py"]

if __name__ == "__main__":
    chosen = sys.argv[1:] or BENCHES
    failed = [b for b in chosen if subprocess.run([sys.executable, b], cwd=HERE).returncode != 0]
    sys.exit(1 if failed else 0)
