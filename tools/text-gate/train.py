"""Trains the text gate's tiny network on data from dump-training.ts and writes its weights.

    /usr/bin/python3 tools/text-gate/train.py --data .tmp/text-gate --out src/detectors/text/text-gate-weights.ts

Needs Debian's python3-torch (1.13) and numpy. Deterministic for a given data dump and seed.
The architecture here must match the layer kinds src/detectors/text/gate-net.ts runs.
"""
import argparse, base64, json, random
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

POS_COVERAGE = 0.04  # a cell is text when ≥ 4 % of its pixels are ink
CROP = 128           # training crops, in network-input pixels (16 × 16 cells)
VALIDATION_SCENES = ("dune", "kleiber")


def load(data_dir):
    index = json.load(open(f"{data_dir}/index.json"))
    blob = np.fromfile(f"{data_dir}/data.bin", dtype=np.uint8)
    items = []
    for e in index:
        n = e["w"] * e["h"]
        img = blob[e["offset"]:e["offset"] + n].reshape(e["h"], e["w"]).astype(np.float32) / 255.0
        t0 = e["offset"] + n + (4 - n % 4) % 4
        tgt = blob[t0:t0 + 4 * e["ch"] * e["cw"]].view(np.float32).reshape(e["ch"], e["cw"])
        items.append((e, img, tgt))
    return items


def make_net(widths, extra=1):
    """Three stride-2 stages (cells of 8 input pixels), `extra` stride-1 blocks for context, a 1×1 head."""
    c1, c2, c3 = widths
    layers = [
        nn.Conv2d(1, c1, 3, 2, 1), nn.ReLU(),
        nn.Conv2d(c1, c1, 3, 2, 1, groups=c1), nn.Conv2d(c1, c2, 1), nn.ReLU(),
        nn.Conv2d(c2, c2, 3, 2, 1, groups=c2), nn.Conv2d(c2, c3, 1), nn.ReLU(),
    ]
    for _ in range(extra):
        layers += [nn.Conv2d(c3, c3, 3, 1, 1, groups=c3), nn.Conv2d(c3, c3, 1), nn.ReLU()]
    layers.append(nn.Conv2d(c3, 1, 1))
    return nn.Sequential(*layers)


def crop(rng, img, tgt, want_text):
    h, w = img.shape
    ch, cw = tgt.shape
    cc = CROP // 8
    if h < CROP or w < CROP:
        pimg = np.zeros((max(h, CROP), max(w, CROP)), np.float32); pimg[:h, :w] = img
        ptgt = np.full((max(ch, cc), max(cw, cc)), -1, np.float32); ptgt[:ch, :cw] = tgt
        img, tgt = pimg, ptgt
        h, w = img.shape; ch, cw = tgt.shape
    ys, xs = np.nonzero(tgt >= POS_COVERAGE)
    if want_text and len(ys) > 0:
        k = rng.randrange(len(ys))
        cy = min(max(0, ys[k] - rng.randrange(cc)), (h - CROP) // 8)
        cx = min(max(0, xs[k] - rng.randrange(cc)), (w - CROP) // 8)
    else:
        cy = rng.randrange((h - CROP) // 8 + 1)
        cx = rng.randrange((w - CROP) // 8 + 1)
    return img[cy * 8:cy * 8 + CROP, cx * 8:cx * 8 + CROP], tgt[cy:cy + cc, cx:cx + cc]


def augment(rng, img, tgt):
    """Mirror, contrast and brightness, polarity, sensor noise; upside down only without text."""
    if rng.random() < 0.5:
        img, tgt = img[:, ::-1], tgt[:, ::-1]
    if not (tgt > 0).any() and rng.random() < 0.5:
        img, tgt = img[::-1, :], tgt[::-1, :]
    if rng.random() < 0.8:
        img = np.clip((img - 0.5) * rng.uniform(0.6, 1.3) + 0.5 + rng.uniform(-0.15, 0.15), 0, 1)
    if rng.random() < 0.25:
        img = 1 - img
    if rng.random() < 0.3:
        img = np.clip(img + np.random.normal(0, rng.uniform(0.005, 0.03), img.shape), 0, 1)
    return img.astype(np.float32), tgt


def crop_at(rng, img, tgt, cy, cx):
    h, w = img.shape
    cc = CROP // 8
    if h < CROP or w < CROP:
        return crop(rng, img, tgt, False)
    y0 = min(max(0, cy - rng.randrange(cc)), (h - CROP) // 8)
    x0 = min(max(0, cx - rng.randrange(cc)), (w - CROP) // 8)
    return img[y0 * 8:y0 * 8 + CROP, x0 * 8:x0 * 8 + CROP], tgt[y0:y0 + cc, x0:x0 + cc]


def mine_hard(net, items):
    """The best-scoring cell of each text-free image; the top third of them are trained on more."""
    found = []
    with torch.no_grad():
        for it in items:
            logits = net(torch.from_numpy(it[1])[None, None])[0, 0].numpy()
            k = int(np.argmax(logits))
            found.append((float(logits.max()), it, k // logits.shape[1], k % logits.shape[1]))
    found.sort(key=lambda f: -f[0])
    return [(it, cy, cx) for _, it, cy, cx in found[: max(1, len(found) // 3)]]


def cell_loss(logits, tgt, pos_weight):
    valid = tgt >= 0
    pos = tgt >= POS_COVERAGE
    neg = tgt == 0
    weight = torch.where(pos, torch.full_like(tgt, pos_weight), torch.where(neg, torch.ones_like(tgt), torch.zeros_like(tgt))) * valid
    return (F.binary_cross_entropy_with_logits(logits, pos.float(), reduction="none") * weight).sum() / weight.sum().clamp(min=1)


def image_scores(net, items):
    out = []
    with torch.no_grad():
        for e, img, _ in items:
            logits = net(torch.from_numpy(img)[None, None])[0, 0]
            out.append(float(logits.max()))
    return np.array(out)


def export(net, widths, threshold, meta):
    layers = []
    mods = [m for m in net if isinstance(m, nn.Conv2d)]
    relu_after = []
    seq = list(net)
    for i, m in enumerate(seq):
        if isinstance(m, nn.Conv2d):
            relu_after.append(i + 1 < len(seq) and isinstance(seq[i + 1], nn.ReLU))
    def b64(t):
        return base64.b64encode(t.detach().contiguous().numpy().astype("<f4").tobytes()).decode()
    for m, relu in zip(mods, relu_after):
        k = m.kernel_size[0]
        if k == 3 and m.groups == 1:
            layers.append({"kind": "conv3x3", "stride": m.stride[0], "cin": m.in_channels, "cout": m.out_channels, "relu": relu, "weight": b64(m.weight), "bias": b64(m.bias)})
        elif k == 3:
            layers.append({"kind": "dw3x3", "stride": m.stride[0], "channels": m.in_channels, "relu": relu, "weight": b64(m.weight), "bias": b64(m.bias)})
        else:
            layers.append({"kind": "pw", "cin": m.in_channels, "cout": m.out_channels, "relu": relu, "weight": b64(m.weight), "bias": b64(m.bias)})
    return {"layers": layers, "threshold": threshold, "meta": meta}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=".tmp/text-gate")
    ap.add_argument("--out", default="src/detectors/text/text-gate-weights.ts")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--widths", default="16,32,48")
    ap.add_argument("--extra", type=int, default=2, help="stride-1 blocks after the last stride-2 stage")
    ap.add_argument("--target-recall", type=float, default=0.98)
    ap.add_argument("--pos-weight", type=float, default=1.0)
    ap.add_argument("--text-frac", type=float, default=0.4, help="share of training crops taken around text")
    ap.add_argument("--hard-every", type=int, default=500, help="steps between hard-negative mining passes (0: none)")
    args = ap.parse_args()
    torch.manual_seed(args.seed); np.random.seed(args.seed); rng = random.Random(args.seed)
    torch.set_num_threads(args.threads)
    widths = [int(x) for x in args.widths.split(",")]
    items = load(args.data)
    # Validation (the threshold is chosen on it; never trained on) holds whole scenes out, so that
    # the threshold reflects photos the network has not seen: two real scenes and every fifth texture.
    def held_out(e):
        src = e["source"]
        if src.startswith("texture_"):
            return int(src.rsplit("_", 1)[1].split(".")[0]) % 5 == 0
        return src.startswith(VALIDATION_SCENES)
    val = [it for it in items if held_out(it[0])]
    train = [it for it in items if not held_out(it[0])]
    text_items = [it for it in train if (it[2] >= POS_COVERAGE).any()]
    negative_items = [it for it in train if not (it[2] > 0).any()]
    net = make_net(widths, args.extra)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    hard = []  # (item, cell y, cell x): where text-free images currently look most like text
    for step in range(args.steps):
        if args.hard_every > 0 and step > 0 and step % args.hard_every == 0:
            hard = mine_hard(net, negative_items)
        xs, ts = [], []
        for b in range(args.batch):
            r = rng.random()
            if r < args.text_frac:
                e, img, tgt = text_items[rng.randrange(len(text_items))]
                ci, ct = crop(rng, img, tgt, True)
            elif hard and r < args.text_frac + (1 - args.text_frac) / 2:
                (e, img, tgt), cy, cx = hard[rng.randrange(len(hard))]
                ci, ct = crop_at(rng, img, tgt, cy, cx)
            else:
                e, img, tgt = train[rng.randrange(len(train))]
                ci, ct = crop(rng, img, tgt, False)
            ci, ct = augment(rng, ci, ct)
            xs.append(np.ascontiguousarray(ci)); ts.append(np.ascontiguousarray(ct))
        x = torch.from_numpy(np.stack(xs))[:, None]
        t = torch.from_numpy(np.stack(ts))
        loss = cell_loss(net(x)[:, 0], t, pos_weight=args.pos_weight)
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        if step % 500 == 0 or step == args.steps - 1:
            print(f"step {step} loss {loss.item():.4f}", flush=True)
    scores = image_scores(net, val)
    kinds = [e["kind"] for e, _, _ in val]
    has_text = np.array([(t >= POS_COVERAGE).any() for _, _, t in val])
    clean = np.array([k in ("clean", "blurry") for k in kinds])
    text_scores = np.sort(scores[has_text])
    threshold = float(text_scores[int(np.floor((1 - args.target_recall) * len(text_scores)))])
    recall = float(np.mean(scores[has_text] >= threshold)); fp = float(np.mean(scores[clean] >= threshold))
    print(f"validation: {has_text.sum()} text images, {clean.sum()} photos without text; threshold {threshold:.3f}: recall {recall:.3f}, photos flagged {fp:.3f}")
    for q in (0.95, 0.97, 0.98, 0.99, 1.0):
        th = float(text_scores[min(len(text_scores) - 1, int(np.floor((1 - q) * len(text_scores))))])
        print(f"  recall {q:.2f}: threshold {th:.3f}, photos flagged {np.mean(scores[clean] >= th):.3f}")
    # A fixed input and the network's output on it, so the JS runner can be checked against torch.
    ch_h, ch_w = 37, 53
    probe = np.fromfunction(lambda y, x: ((x * 7 + y * 13) % 256) / 255.0, (ch_h, ch_w)).astype(np.float32)
    with torch.no_grad():
        probe_out = net(torch.from_numpy(probe)[None, None])[0, 0].numpy().astype("<f4")
    names = [e["file"] for e, _, _ in val]
    low = sorted((i for i in range(len(val)) if has_text[i]), key=lambda i: scores[i])[:6]
    high = sorted((i for i in range(len(val)) if clean[i]), key=lambda i: -scores[i])[:6]
    print("  weakest text images:", ", ".join(f"{names[i]} {scores[i]:.2f}" for i in low))
    print("  strongest photos:", ", ".join(f"{names[i]} {scores[i]:.2f}" for i in high))
    meta = {"seed": args.seed, "steps": args.steps, "widths": widths, "extra": args.extra, "posWeight": args.pos_weight, "textFrac": args.text_frac, "hardEvery": args.hard_every, "trainImages": len(train), "validationImages": len(val), "validationRecall": round(recall, 4), "validationPhotosFlagged": round(fp, 4)}
    w = export(net, widths, threshold, meta)
    lines = [
        "// Generated by tools/text-gate/train.py from tools/text-gate/dump-training.ts data. Do not edit.",
        f"// Training: {json.dumps(meta)}",
        "",
        "export const TEXT_GATE_WEIGHTS = " + json.dumps({
            "threshold": round(threshold, 4),
            "layers": w["layers"],
            "check": {"height": ch_h, "width": ch_w, "output": base64.b64encode(probe_out.tobytes()).decode(), "outputHeight": int(probe_out.shape[0]), "outputWidth": int(probe_out.shape[1])},
        }, indent=2) + " as const;",
        "",
    ]
    open(args.out, "w").write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
