"""The plain-language notes under each report section: what the numbers mean, for a reader who
is not a machine-learning engineer."""

NOTES = {
    "card": (
        "What was trained, on what, and how. The holdout below was never used for training or for "
        "choosing the epoch. Numerics: the arithmetic the model ran in (32-bit floats, or a faster "
        "form kept only where its predictions matched the 32-bit ones)."),
    "metrics": (
        "Accuracy is the share of holdout examples classified correctly; macro-F1 averages the F1 "
        "score of every class, so rare classes count as much as common ones. The confusion matrix "
        "shows which classes are mistaken for which."),
    "gallery_confused": "The mistakes shown come from the most frequent confusions first: {pairs}.",
    "shortcuts": (
        "A model can learn a shortcut: a mark that happens to come with one class in the training images "
        "(a stamp in a corner, a watermark, a coloured border) instead of the thing itself. It then "
        "scores well on data collected the same way and fails on new data. For each class, the images "
        "the model predicts as that class are explained, the explanations averaged, and the small region "
        "that holds the most of them is tested: painted over with other images' pixels, and pasted onto "
        "other images. A region that both draws the model's attention and changes its answers is a "
        "finding. The clusters show groups of images the model treats alike (Lapuschkin et al. 2019, "
        "'Unmasking Clever Hans predictors')."),
    "shortcuts_text": (
        "A model can learn a shortcut: a word that happens to come with one class in the training texts "
        "(a signature, a template phrase, a source's tag) instead of what the text says. It then scores "
        "well on texts collected the same way and fails on new ones. For each class, the texts the model "
        "predicts as that class are explained; a word that is among the highest-scored in most of them is "
        "tested by deleting it, and by adding it to other texts. A word that changes the answers is a "
        "finding."),
    "data": (
        "What the model learned from and was measured on. A near-copy of a training example in the holdout "
        "is a question the model has already seen: it inflates the accuracy quoted above. The classical "
        "baseline (logistic regression on pixels or word counts, trained on the same split) is the accuracy "
        "a deep model must beat to be worth its cost."
    ),
    "labels": (
        "Every labeled example was predicted by a model trained without it (cross-fitting); an example "
        "whose prediction is confidently another class than its label is listed, the least likely label "
        "first. Most are mislabeled, some are ambiguous or unusual: look at them, then retrain with "
        "--relabel or --drop and the file robustune labels wrote."
    ),
    "certified": (
        "The model is wrapped in randomized smoothing: its answer is the class it gives most often when "
        "Gaussian noise is added to the input. For that smoothed model, a certificate proves that no change "
        "within the radius can alter the answer (a lower bound on the robust accuracy), while an attack "
        "finds changes that do (an upper bound): the true robust accuracy lies in the shaded band. The "
        "L-inf radius a certificate implies is the L2 radius divided by the square root of the number of "
        "pixel values: a much weaker statement."
    ),
    "trust": (
        "How far each answer can be trusted. A calibrated probability of 0.8 should be right about 8 "
        "times in 10: the reliability diagram puts each group of answers' stated confidence against how "
        "often it was right, and calibration error (ECE) is the average gap. A prediction set lists "
        "every class that may be the right one, so that the true class is in the set for at least "
        "{coverage} of inputs like the ones it was tuned on (more classes in a set: a harder input). An "
        "input is flagged unfamiliar when what the model computes for it (its outputs, or its internal "
        "features) looks unlike what it computes on its own validation data (about 1 in 20 familiar "
        "inputs is flagged too): treat its answer with care."),
    "per_class": (
        "Precision: of the examples the model put in a class, the share that belong there. Recall: "
        "of the examples of a class, the share the model found."),
    "groups": (
        "The same metrics per group. Selection rate: how often the model predicts the positive class "
        "({positive}); true-positive rate: how often it finds it when it is there. Demographic "
        "parity difference is the largest gap in selection rate; equalized-odds difference the "
        "largest gap in true- or false-positive rate. Zero means the groups are treated alike."),
    "robustness": (
        "Robust accuracy is the accuracy when an attacker may change each input within a budget; "
        "{meaning}. The worst case counts an example as lost if any attack fools it. Sanity flags "
        "warn when a number is likely too optimistic (for example gradient masking)."),
    "budget_text": (
        "the budget is the share of words an attacker may change (word-level) or how far each "
        "token's embedding may move relative to its length (embedding PGD)"),
    "budget_image": "epsilon is the largest change to any pixel, in 1/255 steps of brightness",
    "gallery_text": (
        "Each word is shaded by its {method} attribution for the predicted class ({why}): red "
        "words pushed the model toward it, blue words away."),
    "gallery_image": (
        "Left: the input. Right: its {method} attribution for the predicted class ({why}), drawn "
        "with Captum as a heat map blended over the grey input: the brighter, the more the pixel "
        "mattered (magnitude; the top 2% saturate)."),
    "gallery_why": "the most faithful method by deletion on this page",
    "gallery_chosen": "chosen with --gallery-method",
    "quality": (
        "Measured on {n} holdout images, the model's mistakes first (from its most frequent confusions). "
        "Faithfulness: how far the deletion curve falls below a random order's plus how far the "
        "insertion curve rises above it (higher is better; it picks the galleries' method). A marked "
        "method (mostly empty maps, or another method's maps) is never picked. Deletion AUC: how fast "
        "the predicted probability falls when pixels are blacked out in the map's order (lower is "
        "better; compare with the random order). Insertion AUC: how fast it rises when pixels are "
        "revealed (higher is better). "
        "Infidelity: how badly the map predicts the effect of small perturbations (lower is "
        "better). Max-sensitivity: how much the map changes under tiny input noise (lower is more "
        "stable)."),
    "quality_text": (
        "Measured on {n} holdout texts, the model's mistakes first. Deletion AUC: how fast the "
        "predicted probability falls when "
        "tokens are replaced by padding in the explanation's order (lower is better; compare with "
        "the random order). Insertion AUC: how fast it rises when tokens are put back into an "
        "all-padding text (higher is better). Special tokens are never touched."),
    "adversarial": (
        "The same examples before and after the attack, each explained for its true class. A low "
        "rank correlation or top-k overlap means the attack also changed what the model looks at."),
}
