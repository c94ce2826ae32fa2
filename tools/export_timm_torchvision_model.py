#!/usr/bin/env python3
"""Export a torchvision or timm classifier to ONNX with torch.onnx.export (the model-zoo page's interface).

  export_timm_torchvision_model.py --model_library torchvision --model_name mobilenet_v2 \
      --size 224 --pretrained_weights weights.pth --save_dir ./onnx [--opset 13] [--width_mult 0.5]

Writes <save_dir>/<model_name>.onnx (input 'input' [N,3,size,size], output 'logits'). Exit code 3 with a
"missing package" line when torch, torchvision or timm is not importable, so callers can say what to
install. Checkpoints are loaded with weights_only where torch supports it, and unwrapped from
{'state_dict': ...} / {'model': ...} and DataParallel 'module.' prefixes.
"""
import argparse
import os
import sys


def missing(package, err):
    sys.stderr.write(f'missing package: {package} ({err})\n')
    sys.exit(3)


def load_state(path, torch):
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except TypeError:  # torch < 1.13 has no weights_only
        obj = torch.load(path, map_location='cpu')
    for key in ('state_dict', 'model_state_dict', 'model'):
        if isinstance(obj, dict) and key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if all(k.startswith('module.') for k in obj):
        obj = {k[len('module.'):]: v for k, v in obj.items()}
    return obj


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--model_library', choices=['torchvision', 'timm'], required=True)
    ap.add_argument('--model_name', required=True)
    ap.add_argument('--size', type=int, default=224)
    ap.add_argument('--pretrained_weights', default='')
    ap.add_argument('--save_dir', required=True)
    ap.add_argument('--num_classes', type=int, default=1000)
    ap.add_argument('--opset', type=int, default=13)
    ap.add_argument('--width_mult', type=float, default=1.0, help='torchvision only (timm names the width in the model name)')
    a = ap.parse_args()
    try:
        import torch
    except ImportError as e:
        missing('torch', e)
    if a.model_library == 'torchvision':
        try:
            import torchvision
        except ImportError as e:
            missing('torchvision', e)
        if not hasattr(torchvision.models, a.model_name):
            sys.stderr.write(f'torchvision has no model {a.model_name}\n')
            return 2
        kwargs = {'width_mult': a.width_mult} if a.width_mult != 1.0 else {}
        model = getattr(torchvision.models, a.model_name)(num_classes=a.num_classes, **kwargs)
    else:
        try:
            import timm
        except ImportError as e:
            missing('timm', e)
        model = timm.create_model(a.model_name, pretrained=False, num_classes=a.num_classes)
    if a.pretrained_weights:
        model.load_state_dict(load_state(a.pretrained_weights, torch), strict=True)
    model.eval()
    os.makedirs(a.save_dir, exist_ok=True)
    out = os.path.join(a.save_dir, f'{a.model_name}.onnx')
    tmp = out + f'.tmp-{os.getpid()}'
    x = torch.zeros(1, 3, a.size, a.size)
    with torch.no_grad():
        torch.onnx.export(model, x, tmp, input_names=['input'], output_names=['logits'], opset_version=a.opset,
                          dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}}, do_constant_folding=True)
    os.replace(tmp, out)
    print(out)
    return 0


if __name__ == '__main__':
    sys.exit(main())
