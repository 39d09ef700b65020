"""Built-in plugins, registered lazily through the same entry point as third-party ones."""

from __future__ import annotations

from plugins.registry import Registrar

BACKBONES = {
    "resnet18": "ResNet-18 (timm); weights hub, a local file or none",
    "resnet34": "ResNet-34 (timm); weights hub, a local file or none",
    "resnet50": "ResNet-50 (timm); weights hub, a local file or none",
    "vgg16": "VGG-16 (timm); weights hub, a local file or none",
    "vgg16_bn": "VGG-16 with batch norm (timm); weights hub, a local file or none",
    "efficientnet_lite0": "EfficientNet-Lite0 (timm) with packaged ImageNet weights",
}
ADAPTERS = {
    "linear-probe": "backbone frozen; features computed once and cached, only the head trains",
    "full": "everything trains, the backbone at a lower learning rate than the head",
    "partial": "the last N backbone blocks and the head train (--unfreeze N)",
    "scratch": "everything trains at one learning rate (the default for from-scratch models)",
    "lora": "low-rank updates (PEFT) on attention or Linear/Conv2d layers, merged into the bundle",
    "gradual": "head first, then one more block every --unfreeze-every epochs, discriminative rates",
    "discriminative": "everything trains; each block --lr-decay times slower than the block above",
}
SCRATCH_MODELS = {
    "cnn": ("cnn:cnn", "from scratch: image CNN (depth, width, bn, dropout) or Kim's text CNN"),
    "rnn": ("recurrent:rnn", "from scratch: Elman RNN over learned token embeddings or image rows"),
    "lstm": ("recurrent:lstm", "from scratch: LSTM (bidirectional, stacked) over tokens or image rows"),
    "dbn": ("dbn:dbn", "from scratch: deep belief network, stacked RBMs (CD-k) then backprop; images"),
    "gan": ("gan:gan", "from scratch: semi-supervised GAN discriminator (K+1, feature matching); images"),
}
RECIPES = {
    "supervised": ("backprop", "cross-entropy on the labeled split (every model)"),
    "dbn": ("dbn", "greedy RBM pretraining with CD-k per layer, then supervised fine-tuning"),
    "semi-gan": ("semi_gan", "K+1 discriminator + feature-matching generator on labeled + unlabeled data"),
    "lbfgs": ("lbfgs", "linear probes: logistic regression on cached features by L-BFGS, L2 chosen on "
                       "validation, refit on train + validation"),
}
EXPLAINERS = {
    "integrated-gradients": "integrated gradients from a black image (Captum), memory-sized internal batches",
    "saliency": "absolute input gradient of the target logit (Captum)",
    "input-x-gradient": "input times gradient (Captum)",
    "gradcam": "Grad-CAM on the last convolutional stage, upsampled (Captum LayerGradCam; --layer)",
    "occlusion": "logit drop under a sliding black window (Captum)",
    "gradient-shap": "expected gradients from black and white baselines (Captum GradientShap)",
    "deeplift": "DeepLIFT rescale rule from a black image (Captum)",
    "lrp": "layer-wise relevance propagation, epsilon rule, where Captum has rules for every layer",
    "smoothgrad": "any explainer averaged over noisy copies (Captum NoiseTunnel; --base)",
    "attention-rollout": "text: attention maps multiplied through the layers, read from [CLS] (BERT family)",
}
DATASETS = {
    "digits": "scikit-learn 8x8 digits: 1,797 images, 10 classes",
    "fashion-mnist": "Fashion-MNIST 28x28 (Debian package or fashion-mnist:FOLDER): 70k, 10 classes",
    "rotten-tomatoes": "Rotten Tomatoes review snippets, fresh vs rotten (packaged)",
    "imagefolder": "imagefolder:PATH, one subfolder of images per class",
    "csv": "csv:PATH with text and label columns (--text-column, --label-column)",
}
ATTACKS = {
    "fgsm": ("fgsm", "fast gradient sign method, Linf (torchattacks)"),
    "pgd": ("pgd", "projected gradient descent with random start, Linf (torchattacks)"),
    "pgd-l2": ("pgd_l2", "projected gradient descent, L2 (torchattacks)"),
    "cw": ("cw", "Carlini-Wagner L2, over-budget perturbations count as failures (torchattacks)"),
    "deepfool": ("deepfool", "DeepFool L2, over-budget perturbations count as failures (torchattacks)"),
    "square": ("square", "Square attack, black-box: model queries only, Linf (torchattacks)"),
    "autoattack": ("autoattack", "AutoAttack standard version, Linf (torchattacks)"),
    "embedding-pgd": ("embedding_pgd", "text: PGD on token embeddings, L2 per token relative to its norm"),
    "word-level": ("word_level", "text: greedy word substitution (embedding neighbours, typos)"),
    "worst-case": ("worst_case", "per sample, the first of fgsm, pgd, square that fools the model"),
}
DATASET_MODULES = {"csv": "csv_text"}
CONFORMAL_SCORES = {
    "aps": "adaptive prediction sets: the mass of every label at least as likely (randomized); the default",
    "lac": "1 - p(label): the smallest sets on average, least adaptive to hard inputs",
    "raps": "APS with a penalty on unlikely labels (penalty, k_reg): for many classes",
}
UNFAMILIAR_SCORES = {
    "energy": "-logsumexp(logits): nothing to fit, any classifier; the default",
    "mahalanobis": "distance of the penultimate features to the nearest class mean (shared, shrunk "
                   "covariance): fitted on validation features",
}
EXPORTERS = {
    "onnx": "ONNX for onnxruntime (dynamic batch; pixels in [0, 1] or token ids), checked against the bundle",
    "hf": "Hugging Face layout: transformers (text) or timm (image) folder, checked against the bundle",
}


def register(reg: Registrar) -> None:
    """Register every built-in plugin by ``module:object`` (nothing is imported here)."""
    for name, desc in BACKBONES.items():
        reg.register("backbone", name, f"plugins.backbones.timm_image:{name}", desc)
    reg.register(
        "backbone", "bert", "plugins.backbones.bert:create_bert",
        "BERT-family HF encoder; default the packaged all-MiniLM-L6-v2, or any HF folder",
    )
    reg.register(
        "backbone", "mobilenet_v2", "plugins.backbones.mobilenet_v2:mobilenet_v2",
        "MobileNetV2 (torchvision) with packaged ImageNet weights",
    )
    reg.register(
        "backbone", "hf-sequence-classifier", "plugins.backbones.hf_classifier:create_hf_classifier",
        "a whole HF sequence-classification model (its own head); made by `robustune import --hf`",
    )
    for name, (target, desc) in SCRATCH_MODELS.items():
        reg.register("backbone", name, f"plugins.backbones.{target}", desc)
    for name, (module, desc) in RECIPES.items():
        reg.register("recipe", name, f"finetune.recipes.{module}:recipe", desc)
    reg.register("head", "linear", "plugins.heads:linear", "dropout + one linear layer")
    reg.register("head", "identity", "plugins.heads:identity", "none: the backbone's outputs are the logits")
    reg.register("head", "mlp", "plugins.heads:mlp", "dropout, linear (256), GELU, dropout, linear")
    reg.register("head", "lstm", "plugins.heads:lstm",
                 "bidirectional LSTM (128) over a text backbone's token states, then linear")
    for name, desc in ADAPTERS.items():
        module = name.replace("-", "_")
        reg.register("adapter", name, f"finetune.adapters.{module}:adapter", desc)
    for name, (module, desc) in ATTACKS.items():
        reg.register("attack", name, f"robustness.attacks.{module}:attack", desc)
    for name, desc in EXPLAINERS.items():
        reg.register("explainer", name, f"explain.methods.{name.replace('-', '_')}:explainer", desc)
    for name, desc in CONFORMAL_SCORES.items():
        reg.register("conformal-score", name, f"robustness.uncertainty.conformal_scores:{name}", desc)
    for name, desc in UNFAMILIAR_SCORES.items():
        reg.register("unfamiliar-score", name, f"robustness.uncertainty.unfamiliar_scores:{name}", desc)
    for name, desc in DATASETS.items():
        module = DATASET_MODULES.get(name, name.replace("-", "_"))
        reg.register("dataset", name, f"finetune.data.{module}:load", desc)
    for name, desc in EXPORTERS.items():
        reg.register("exporter", name, f"finetune.export.{name}:exporter", desc)
    reg.register("launcher", "torch", "finetune.launch_torch:launcher",
                 "--nproc ranks as processes on this machine (torchrun-style; --nnodes: one command "
                 "per machine)")
    reg.register("launcher", "ray", "finetune.launch_ray:launcher",
                 "--nproc ranks as a Ray Train TorchTrainer's workers on the Ray cluster")
