#!/usr/bin/python3
"""Compare our preprocessing with torchvision 0.14's own transforms, pixel for pixel.

torchvision side: pil_loader (Image.open + convert('RGB')), Resize(size) with the given interpolation,
CenterCrop(crop), PILToTensor. Our side: raw uint8 CHW tensors in datalist order, written by
`npx tsx tools/compare-torchvision.ts --dump` (run automatically when --ours is not given).

Prints JSON: {images, identical, mean_abs_diff, max_abs_diff, worst: [...]}.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torchvision import transforms as T
from torchvision.datasets.folder import pil_loader

HERE = os.path.dirname(os.path.abspath(__file__))
MODES = {
    "bilinear": T.InterpolationMode.BILINEAR,
    "bicubic": T.InterpolationMode.BICUBIC,
    "nearest": T.InterpolationMode.NEAREST,
}


def read_list(labels, limit):
    files = []
    with open(labels) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            files.append(line.rsplit(None, 1)[0])
            if limit and len(files) >= limit:
                break
    return files


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("images", nargs="?", default=os.path.join(HERE, "..", "..", "shared", "data", "imagenet-sample"))
    ap.add_argument("--labels", help="FILE INDEX list (default: IMAGES/val_label.txt)")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--resize", type=int, default=256)
    ap.add_argument("--crop", type=int, default=224)
    ap.add_argument("--interpolation", choices=sorted(MODES), default="bilinear")
    ap.add_argument("--ours", help="raw uint8 CHW tensors of the same images, in list order")
    ap.add_argument("--worst", type=int, default=5)
    a = ap.parse_args()
    labels = a.labels or os.path.join(a.images, "val_label.txt")
    files = read_list(labels, a.limit)

    tmp = None
    ours_path = a.ours
    if not ours_path:
        tmp = tempfile.mkdtemp(prefix="compare-tv-")
        ours_path = os.path.join(tmp, "ours.bin")
        cmd = ["npx", "tsx", os.path.join(HERE, "compare-torchvision.ts"), "--dump", ours_path,
               "--images", a.images, "--labels", labels, "--limit", str(len(files)),
               "--resize", str(a.resize), "--crop", str(a.crop), "--interpolation", a.interpolation]
        subprocess.run(cmd, check=True, cwd=os.path.join(HERE, ".."))

    tf = T.Compose([T.Resize(a.resize, interpolation=MODES[a.interpolation]), T.CenterCrop(a.crop), T.PILToTensor()])
    n = 3 * a.crop * a.crop
    ours = np.fromfile(ours_path, dtype=np.uint8)
    if ours.size != n * len(files):
        sys.exit(f"{ours_path}: {ours.size} bytes, expected {n * len(files)} for {len(files)} images")
    ours = ours.reshape(len(files), 3, a.crop, a.crop)

    identical = 0
    total_abs = 0
    max_abs = 0
    rows = []
    for i, name in enumerate(files):
        ref = tf(pil_loader(os.path.join(a.images, name)))
        assert ref.dtype == torch.uint8
        d = np.abs(ref.numpy().astype(np.int16) - ours[i].astype(np.int16))
        m = int(d.max())
        total_abs += int(d.sum())
        max_abs = max(max_abs, m)
        if m == 0:
            identical += 1
        else:
            rows.append({"file": name, "max_abs_diff": m, "differing": int((d > 0).sum()),
                         "mean_abs_diff": float(d.mean())})
    rows.sort(key=lambda r: (-r["max_abs_diff"], -r["differing"]))
    print(json.dumps({
        "images": len(files),
        "identical": identical,
        "mean_abs_diff": total_abs / float(max(1, len(files)) * n),
        "max_abs_diff": max_abs,
        "worst": rows[: a.worst],
    }))
    if tmp:
        os.remove(ours_path)
        os.rmdir(tmp)


if __name__ == "__main__":
    main()
