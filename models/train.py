"""Trains revmod's image classifier, exports it to ONNX with its model card, and checks that revmod
serves it as PyTorch scores it (the train-serve parity check).

    /usr/bin/python3 models/train.py --data DATASET --out OUT [--weights imagenet|FILE.pth|none]

DATASET is an ImageFolder (one folder per class: normal/ violate/, or normal/ and one folder per
category) or the output of `revmod dataset export` (its manifest.jsonl names the files and
classes). OUT receives:

    model.pth          the state dict (torch.save)
    model.onnx         opset 17, input "input" [N,3,224,224], output "logits" [N,classes], dynamic N
    model.card.json    revmod's model card: classes, preprocessing, thresholds chosen on the
                       validation split, validation metrics, the dataset manifest's sha256, parity
    parity-files.txt   the validation images the parity check scored

The recipe: Resize(256) -> RandomCrop(224) -> horizontal flip for training, Resize(256) ->
CenterCrop(224) for validation, both after ImageOps.exif_transpose (revmod auto-orients); SGD
(lr 1e-3, momentum 0.9), StepLR(7, 0.1), 20 epochs, a stratified 20 % validation split, class
weights against imbalance; the epoch with the best validation accuracy is kept. Seeded; torch's
deterministic algorithms are requested (with a warning where an op has none).

Parity: the ONNX is run through revmod's own decoding and onnxruntime (`revmod model score`) on
the validation images and compared with PyTorch on the same files; max |delta p| must be <= 0.01
(--parity-bound). It is printed and stored in the card; a failed check exits 3 with the files
written, so that they can be inspected, and the card says passed: false (`revmod model push`
refuses such a card).

Needs Debian's python3-torch, python3-torchvision, python3-pil and python3-numpy (apt), and Node
for the parity check. Exit codes: 0 done, 1 failed, 2 bad arguments or dataset, 3 parity failed.
"""
import argparse
import hashlib
import json
import math
import os
import random
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torchvision
from PIL import Image, ImageOps
from torchvision import transforms

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
RESIZE_SHORT_SIDE = 256
CROP_SIZE = 224
NORMAL = "normal"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
REPO_ROOT = Path(__file__).resolve().parent.parent


class DatasetError(Exception):
    """A dataset revmod cannot train on; exit code 2."""


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def load_samples(data_dir):
    """[(path, class name)], and what the card records about the dataset.

    With a manifest.jsonl its sha256 identifies the dataset. A plain ImageFolder gets the sha256 of
    the manifest revmod would have written for it (one JSON line per file, sorted: file, sha256,
    class), so that the same images give the same hash however they were copied.
    """
    root = Path(data_dir)
    if not root.is_dir():
        raise DatasetError(f"--data {data_dir}: not a folder")
    manifest = root / "manifest.jsonl"
    samples = []
    if manifest.is_file():
        raw = manifest.read_bytes()
        for n, line in enumerate(raw.decode("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                samples.append((root / entry["file"], str(entry["class"])))
            except (ValueError, KeyError) as err:
                raise DatasetError(f"{manifest}:{n}: not a manifest line with file and class ({err})")
        missing = [str(p) for p, _ in samples if not p.is_file()]
        if missing:
            raise DatasetError(f"{manifest}: {len(missing)} listed files are missing, e.g. {missing[0]}")
        source, digest = "manifest.jsonl", sha256_bytes(raw)
    else:
        lines = []
        for cls_dir in sorted(d for d in root.iterdir() if d.is_dir() and not d.name.startswith(".")):
            for f in sorted(cls_dir.rglob("*")):
                if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES:
                    samples.append((f, cls_dir.name))
                    rel = f.relative_to(root).as_posix()
                    lines.append(json.dumps({"file": rel, "sha256": sha256_bytes(f.read_bytes()), "class": cls_dir.name}, separators=(",", ":")))
        source, digest = "imagefolder", sha256_bytes(("\n".join(sorted(lines)) + "\n").encode("utf-8"))
    classes = sorted({c for _, c in samples})
    if NORMAL not in classes:
        raise DatasetError(f"--data {data_dir}: no '{NORMAL}' class (found {classes}); revmod needs one folder named '{NORMAL}'")
    if len(classes) < 2:
        raise DatasetError(f"--data {data_dir}: only the class {classes}; at least one violation class is needed")
    by_class = {c: sum(1 for _, k in samples if k == c) for c in classes}
    thin = [c for c, n in by_class.items() if n < 2]
    if thin:
        raise DatasetError(f"--data {data_dir}: classes {thin} have fewer than 2 images (one for training, one for validation)")
    return classes, samples, {"source": source, "manifestSha256": digest, "images": len(samples), "byClass": by_class}


def stratified_split(samples, classes, val_fraction, seed):
    """Per class, a seeded shuffle; round(n * val_fraction) images (at least 1) go to validation."""
    rng = random.Random(seed)
    train, val = [], []
    for c in classes:
        items = sorted((s for s in samples if s[1] == c), key=lambda s: str(s[0]))
        rng.shuffle(items)
        k = min(len(items) - 1, max(1, round(len(items) * val_fraction)))
        val += items[:k]
        train += items[k:]
    return train, val


def open_rgb(path):
    """As revmod decodes: upright (EXIF orientation applied), RGB without alpha compositing."""
    with Image.open(path) as img:
        return ImageOps.exif_transpose(img).convert("RGB")


class Images(torch.utils.data.Dataset):
    def __init__(self, samples, class_index, transform):
        self.samples = samples
        self.class_index = class_index
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, cls = self.samples[i]
        return self.transform(open_rgb(path)), self.class_index[cls]


def transforms_for():
    normalize = transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    train = transforms.Compose([
        transforms.Resize(RESIZE_SHORT_SIDE), transforms.RandomCrop(CROP_SIZE), transforms.RandomHorizontalFlip(),
        transforms.ToTensor(), normalize,
    ])
    val = transforms.Compose([
        transforms.Resize(RESIZE_SHORT_SIDE), transforms.CenterCrop(CROP_SIZE), transforms.ToTensor(), normalize,
    ])
    return train, val


class TinyNet(nn.Module):
    """A small CNN for smoke tests and toy data: three strided convolutions with batch norm, global average pool."""

    def __init__(self, num_classes, width=16):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 5, stride=4, padding=2, bias=False), nn.BatchNorm2d(w), nn.ReLU(inplace=True),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(inplace=True),
            nn.Conv2d(2 * w, 2 * w, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.fc = nn.Linear(2 * w, num_classes)

    def forward(self, x):
        return self.fc(self.features(x))


def build_model(arch, weights, num_classes, width):
    """The network, with its weights: ImageNet (torchvision's download), a .pth, or random (none)."""
    if arch == "tiny":
        if weights not in ("none",) and not Path(weights).is_file():
            raise DatasetError(f"--weights {weights}: the tiny network has no ImageNet weights; use none or a .pth of a tiny network")
        model = TinyNet(num_classes, width)
        if weights != "none":
            load_backbone(model, weights)
        return model
    if weights == "imagenet":
        try:
            model = torchvision.models.resnet18(weights=torchvision.models.ResNet18_Weights.IMAGENET1K_V1)
        except Exception as err:  # offline, or a proxy refusing: say what to do instead
            raise DatasetError(f"--weights imagenet: torchvision could not load the ImageNet weights ({err}); "
                               "put resnet18-f37072fd.pth in $TORCH_HOME/hub/checkpoints, pass --weights FILE.pth, or --weights none")
    else:
        model = torchvision.models.resnet18(weights=None)
        if weights != "none":
            load_backbone(model, weights)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


def load_backbone(model, path):
    """Loads a state dict (or a full checkpoint's), skipping tensors whose shape differs (the head)."""
    if not Path(path).is_file():
        raise DatasetError(f"--weights {path}: no such file (imagenet, none, or a .pth state dict)")
    state = torch.load(path, map_location="cpu")
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    own = model.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise DatasetError(f"--weights {path}: no tensor matches this network ({type(model).__name__}); wrong --arch?")
    model.load_state_dict(usable, strict=False)
    print(f"weights: {len(usable)}/{len(own)} tensors from {path}", flush=True)


def recalibrate_batch_norm(model, samples, class_index, transform, batch_size):
    """Batch-norm statistics recomputed over the training images as validation sees them.

    After a few dozen steps the running averages still remember their initial values, so that
    eval mode would score with statistics the network never trained with (short runs only: --arch tiny).
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the pass
    loader = torch.utils.data.DataLoader(Images(samples, class_index, transform), batch_size=batch_size, shuffle=False)
    model.train()
    with torch.no_grad():
        for x, _ in loader:
            model(x)
    for m in norms:
        m.momentum = 0.1
    model.eval()


def predict(model, samples, class_index, transform, batch_size):
    """Softmax probabilities [n, classes] and labels, in the order of samples, in eval mode."""
    loader = torch.utils.data.DataLoader(Images(samples, class_index, transform), batch_size=batch_size, shuffle=False)
    probs, labels = [], []
    model.eval()
    with torch.no_grad():
        for x, y in loader:
            probs.append(torch.softmax(model(x), dim=1))
            labels.append(y)
    return torch.cat(probs).numpy().astype(np.float64), torch.cat(labels).numpy()


def per_class_metrics(probs, labels, classes):
    pred = probs.argmax(axis=1)
    k = len(classes)
    confusion = np.zeros((k, k), dtype=int)
    for t, p in zip(labels, pred):
        confusion[t, p] += 1
    out = {}
    for i, c in enumerate(classes):
        tp = int(confusion[i, i])
        fp = int(confusion[:, i].sum() - tp)
        fn = int(confusion[i, :].sum() - tp)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[c] = {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4), "support": int(confusion[i, :].sum())}
    return {
        "accuracy": round(float((pred == labels).mean()), 4),
        "perClass": out,
        "confusion": {"labels": classes, "rows": "true class", "columns": "predicted class", "matrix": confusion.tolist()},
    }


def choose_violate_threshold(violate, is_violation, target_recall):
    """The highest review threshold on the violate score whose validation recall reaches the target.

    The candidates are the scores of the validation violations themselves (recall only changes
    there), rounded down to 4 decimals so that the threshold holds for the scores it came from.
    """
    positives = np.sort(violate[is_violation])[::-1]
    need = max(1, math.ceil(target_recall * len(positives)))
    threshold = math.floor(float(positives[need - 1]) * 1e4) / 1e4
    threshold = min(max(threshold, 0.01), 0.99)
    flagged = violate >= threshold
    tp = int((flagged & is_violation).sum())
    return {
        "violate": threshold,
        "targetRecall": target_recall,
        "recall": round(tp / max(1, int(is_violation.sum())), 4),
        "precision": round(tp / max(1, int(flagged.sum())), 4),
        "reviewRate": round(float(flagged.mean()), 4),
    }


def revmod_cli(args):
    if args.revmod_cli:
        return shlex.split(args.revmod_cli)
    return ["node", str(REPO_ROOT / "workers" / "revmod.js")]


def relative_to_data(args, path):
    try:
        return Path(path).resolve().relative_to(Path(args.data).resolve()).as_posix()
    except ValueError:
        return str(path)


def parity_check(args, onnx_path, val, torch_probs, classes):
    """Scores the validation images with `revmod model score` and compares with PyTorch's."""
    listing = Path(args.out) / "parity-files.txt"
    listing.write_text("".join(f"{Path(p).resolve()}\n" for p, _ in val))
    cmd = revmod_cli(args) + ["model", "score", "--model", str(onnx_path), "--from", str(listing), "--json", "--provider", "cpu"]
    started = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise RuntimeError(f"parity: `{' '.join(cmd)}` exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    by_file = {str(Path(img["file"]).resolve()): img for img in report["images"]}
    deltas, failed, disagreements = [], [], 0
    worst = None
    for (path, _), row in zip(val, torch_probs):
        img = by_file.get(str(Path(path).resolve()))
        if img is None or not img["ok"]:
            failed.append({"file": relative_to_data(args, path), "error": None if img is None else f"{img['code']}: {img['message']}"})
            continue
        served = np.array([img["scores"]["classes"][c] for c in classes])
        d = float(np.abs(served - row).max())
        deltas.append(d)
        if worst is None or d > worst[1]:
            worst = (relative_to_data(args, path), d)
        disagreements += int(served.argmax() != row.argmax())
    max_delta = max(deltas) if deltas else float("nan")
    return {
        "maxAbsDeltaP": round(max_delta, 6),
        "meanAbsDeltaP": round(float(np.mean(deltas)), 6) if deltas else None,
        "bound": args.parity_bound,
        "images": len(deltas),
        "failedImages": failed,
        "topClassDisagreements": disagreements,
        "worstImage": worst[0] if worst else None,
        "passed": bool(deltas) and not failed and max_delta <= args.parity_bound,
        "servedBy": f"revmod model score ({report['executionProvider']})",
        "seconds": round(time.time() - started, 1),
    }


def write_json(path, value):
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(value, indent=2) + "\n")
    os.replace(tmp, path)


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="ImageFolder or `revmod dataset export` folder")
    ap.add_argument("--out", required=True, help="folder for model.pth, model.onnx and model.card.json")
    ap.add_argument("--arch", choices=["resnet18", "tiny"], default="resnet18", help="resnet18 (the recipe) or a tiny CNN for smoke tests")
    ap.add_argument("--width", type=int, default=16, help="tiny only: channels of its first layer")
    ap.add_argument("--weights", default="imagenet", help="imagenet (torchvision download), FILE.pth, or none")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--step-size", type=int, default=7, help="StepLR step, in epochs")
    ap.add_argument("--gamma", type=float, default=0.1, help="StepLR factor")
    ap.add_argument("--val-split", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads; 0: torch's default")
    ap.add_argument("--target-recall", type=float, default=0.95, help="violation recall the review threshold must reach on validation")
    ap.add_argument("--name", default="revmod-classifier")
    ap.add_argument("--version", help="card version; default <date>-<manifest sha256 prefix>")
    ap.add_argument("--parity-bound", type=float, default=0.01)
    ap.add_argument("--no-parity", action="store_true", help="skip the train-serve parity check (the card records it as skipped)")
    ap.add_argument("--revmod-cli", help="command that runs revmod (default: node <repo>/workers/revmod.js)")
    args = ap.parse_args(argv)
    for name, lo, hi in (("epochs", 1, 10_000), ("batch_size", 1, 4096), ("width", 1, 512)):
        v = getattr(args, name)
        if not lo <= v <= hi:
            ap.error(f"--{name.replace('_', '-')} must be within [{lo}, {hi}], received {v}")
    for name in ("val_split", "target_recall"):
        v = getattr(args, name)
        if not 0 < v < 1 and not (name == "target_recall" and v == 1):
            ap.error(f"--{name.replace('_', '-')} must be within (0, 1), received {v}")
    if args.lr <= 0:
        ap.error(f"--lr must be positive, received {args.lr}")
    return args


def train(args):
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    classes, samples, dataset = load_samples(args.data)
    class_index = {c: i for i, c in enumerate(classes)}
    train_set, val_set = stratified_split(samples, classes, args.val_split, args.seed)
    counts = np.array([sum(1 for _, c in train_set if c == k) for k in classes], dtype=np.float64)
    # Inverse frequency, so that each class weighs as much in the loss (a 4:1 set weighs 1:4).
    class_weights = (counts.sum() / (len(classes) * counts)).tolist()
    print(f"data: {dataset['source']} {dataset['manifestSha256'][:12]}, {len(samples)} images {dataset['byClass']}; "
          f"train {len(train_set)}, val {len(val_set)}; class weights {[round(w, 3) for w in class_weights]}", flush=True)

    model = build_model(args.arch, args.weights, len(classes), args.width)
    train_tf, val_tf = transforms_for()
    generator = torch.Generator().manual_seed(args.seed)
    loader = torch.utils.data.DataLoader(Images(train_set, class_index, train_tf), batch_size=args.batch_size, shuffle=True, generator=generator)
    criterion = nn.CrossEntropyLoss(weight=torch.tensor(class_weights, dtype=torch.float32))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.step_size, gamma=args.gamma)
    val_criterion = nn.CrossEntropyLoss(weight=torch.tensor(class_weights, dtype=torch.float32))
    best = None
    started = time.time()
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        total, seen = 0.0, 0
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
            seen += len(y)
        scheduler.step()
        if args.arch == "tiny":
            recalibrate_batch_norm(model, train_set, class_index, val_tf, args.batch_size)
        probs, labels = predict(model, val_set, class_index, val_tf, args.batch_size)
        val_loss = float(val_criterion(torch.log(torch.from_numpy(probs).clamp(min=1e-12)).float(), torch.from_numpy(labels)).item())
        acc = float((probs.argmax(axis=1) == labels).mean())
        history.append({"epoch": epoch, "trainLoss": round(total / seen, 4), "valLoss": round(val_loss, 4), "valAccuracy": round(acc, 4)})
        print(f"epoch {epoch}/{args.epochs} train loss {total / seen:.4f} val loss {val_loss:.4f} acc {acc:.4f}", flush=True)
        if best is None or acc > best[1] or (acc == best[1] and val_loss < best[2]):
            best = (epoch, acc, val_loss, {k: v.detach().clone() for k, v in model.state_dict().items()})
    seconds = time.time() - started
    model.load_state_dict(best[3])
    model.eval()
    return model, classes, class_index, dataset, train_set, val_set, class_weights, best, history, seconds, val_tf


def main(argv):
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model, classes, class_index, dataset, train_set, val_set, class_weights, best, history, seconds, val_tf = train(args)

    pth = out / "model.pth"
    torch.save(model.state_dict(), pth)
    onnx_path = out / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes about constant folding
        torch.onnx.export(
            model, torch.zeros(1, 3, CROP_SIZE, CROP_SIZE), str(onnx_path), input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, opset_version=17, do_constant_folding=True,
        )

    probs, labels = predict(model, val_set, class_index, val_tf, args.batch_size)
    metrics = per_class_metrics(probs, labels, classes)
    normal = class_index[NORMAL]
    violate = 1.0 - probs[:, normal]
    is_violation = labels != normal
    choice = choose_violate_threshold(violate, is_violation, args.target_recall)
    metrics["violate"] = {
        "threshold": choice["violate"], "recall": choice["recall"], "precision": choice["precision"], "reviewRate": choice["reviewRate"],
        "meanDistanceFromHalf": round(float(np.abs(violate - 0.5).mean()), 4),
    }
    metrics["images"] = len(val_set)
    version = args.version or f"{time.strftime('%Y.%m.%d')}-{dataset['manifestSha256'][:8]}"
    default_classes = classes == [NORMAL, "violate"]
    card = {
        "name": args.name,
        "version": version,
        "description": f"{args.arch} trained by models/train.py on {dataset['images']} images ({dataset['source']} {dataset['manifestSha256'][:12]}), "
                       f"best validation accuracy {best[1]:.4f} at epoch {best[0]}.",
        "trained": True,
        "classes": classes,
        **({} if default_classes else {"groups": {c: c for c in classes}}),
        "input": {"name": "input", "shape": ["N", 3, CROP_SIZE, CROP_SIZE]},
        "output": {"name": "logits", "shape": ["N", len(classes)], "scores": "logits"},
        "thresholds": {"violate": choice["violate"], "confidence": 0.7, "block": None},
        "preprocessing": {
            "resize": "crop", "resizeShortSide": RESIZE_SHORT_SIDE, "cropSize": CROP_SIZE, "mean": IMAGENET_MEAN, "std": IMAGENET_STD,
            "scale": 1 / 255, "colorSpace": "RGB", "autoOrient": True,
        },
        "metadata": {
            "dataset": dataset,
            "training": {
                "script": "models/train.py", "arch": args.arch, **({"width": args.width} if args.arch == "tiny" else {}), "weights": args.weights,
                "epochs": args.epochs, "bestEpoch": best[0], "batchSize": args.batch_size, "optimizer": "SGD", "lr": args.lr, "momentum": args.momentum,
                "scheduler": {"kind": "StepLR", "stepSize": args.step_size, "gamma": args.gamma}, "classWeights": [round(w, 6) for w in class_weights],
                "valSplit": args.val_split, "trainImages": len(train_set), "valImages": len(val_set), "seed": args.seed,
                "torch": torch.__version__, "torchvision": torchvision.__version__, "seconds": round(seconds, 1), "history": history,
            },
            "validation": metrics,
            "thresholdChoice": {"method": "highest violate threshold reaching the target recall on the validation split", **choice},
            "onnx": {"opset": 17, "dynamicBatch": True},
            "parity": None,
        },
    }
    card_path = out / "model.card.json"
    write_json(card_path, card)
    print(f"validation: accuracy {metrics['accuracy']}, violate threshold {choice['violate']} (recall {choice['recall']}, "
          f"precision {choice['precision']}, review rate {choice['reviewRate']})", flush=True)

    if args.no_parity:
        card["metadata"]["parity"] = {"skipped": True, "passed": False}
        write_json(card_path, card)
        print("parity: skipped (--no-parity)", flush=True)
        return 0
    parity = parity_check(args, onnx_path, val_set, probs, classes)
    card["metadata"]["parity"] = parity
    write_json(card_path, card)
    print(f"parity: max |dp| {parity['maxAbsDeltaP']} over {parity['images']} validation images "
          f"(bound {parity['bound']}): {'PASSED' if parity['passed'] else 'FAILED'}", flush=True)
    print(f"wrote {pth}, {onnx_path}, {card_path}", flush=True)
    return 0 if parity["passed"] else 3


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except DatasetError as err:
        print(f"train.py: {err}", file=sys.stderr)
        sys.exit(2)
