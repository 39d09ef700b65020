"""Text attacks on the fine-tuned MiniLM Rotten Tomatoes model (bench_text.py's `full` run):
word-level and embedding-space PGD on 200 holdout reviews, through `robustune audit`.

Run: .venv/bin/python bench/bench_text_attack.py
Reports the word-level attack's success rate, mean words changed and queries per example.
"""

from __future__ import annotations

import common  # noqa: F401  (sets the offline environment first)
from common import WORK, write_results

from robustness.defaults import TEXT_EPS
from robustune.jobs import audit

N = 200
BUNDLE = WORK / "text_finetune-full"


def ensure_bundle() -> None:
    """Train the text benchmark's full fine-tuning run if it is not there yet."""
    if (BUNDLE / "robustune.json").is_file():
        return
    from bench_text import RUNS, SHARED

    from finetune.driver import run_training
    from finetune.run_config import from_options

    run_training(from_options({**SHARED, **RUNS["full"], "out": str(BUNDLE)}))


def main() -> None:
    ensure_bundle()
    out = WORK / "text_attack_audit"
    spec = audit.AuditSpec(str(BUNDLE), "rotten-tomatoes", ("word-level", "embedding-pgd"), TEXT_EPS, N,
                           steps=10,
                           batch_size=64, out=str(out), overwrite=True)
    report = audit.run(spec).report
    rows = []
    for name, by_eps in report["attacks"].items():
        for key, s in by_eps.items():
            rows.append({"attack": name, "budget": float(key), "robust_accuracy": s["robust_accuracy"],
                         "success_rate": s["success_rate"], "mean_words_changed": s["mean_words_changed"],
                         "mean_queries": s["mean_queries"], "mean_relative_norm": s["mean_relative_norm"],
                         "seconds": s["seconds"]})
    top = report["attacks"]["word-level"][f"{max(TEXT_EPS):.6g}"]
    checks = {f"clean accuracy {report['clean_accuracy']:.3f} on {report['n']} holdout reviews >= 0.7":
              report["clean_accuracy"] >= 0.7,
              "no example outside its budget or with a special token touched": not any(
                  f["code"] == "outside_ball" for f in report["flags"])}
    notes = [f"word-level at budget {max(TEXT_EPS)} (at most 20% of a review's words, at least one): "
             f"success rate {top['success_rate']:.3f}, {top['mean_words_changed']:.2f} words changed per "
             f"successful attack, {top['mean_queries']:.1f} model queries per attacked review",
             "budget: word-level = largest fraction of words changed; embedding-pgd = per-token L2 budget "
             "relative to the token's embedding norm (10 steps)",
             "success rate counts reviews the model got right before the attack; queries count every "
             "forward pass (importance ranking + candidate substitutions)",
             f"the {N} reviews: a fixed seeded shuffle of the holdout split; flags: "
             + (", ".join(f["code"] for f in report["flags"]) or "none")]
    write_results("text_attack", "python bench/bench_text_attack.py", rows, checks, notes)


if __name__ == "__main__":
    main()
