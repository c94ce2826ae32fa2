import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { UserError } from '../common/errors';

/**
 * The frameworks' own ONNX exporters, for users who have them installed: run as argv arrays through
 * execa (never a shell), with a configurable interpreter. A missing interpreter, package or tool is an
 * error naming what to install and pointing at the native exporter, which needs none of them.
 */
export type FrameworkLibrary = 'torchvision' | 'timm' | 'mmcls' | 'paddle' | 'keras';

export interface FrameworkExportOptions {
  library: FrameworkLibrary;
  /** Output directory; the ONNX file is written inside it. */
  outDir: string;
  /** Python interpreter (torchvision, timm, mmcls, keras). Default: $MODELZOO_PYTHON or 'python3'. */
  python?: string;
  /** torchvision/timm model name, e.g. mobilenet_v2 / mobilenetv2_100. */
  modelName?: string;
  size?: number;
  classes?: number;
  /** torchvision: width_mult (timm names the width in modelName). */
  width?: number;
  /** torchvision/timm .pth, mmcls checkpoint, Keras .h5. */
  weights?: string;
  opset?: number;
  /** mmcls: checkout root (holds tools/deployment/pytorch2onnx.py) and config file. */
  mmclsRoot?: string;
  mmclsConfig?: string;
  /** paddle: inference model dir with model.pdmodel / model.pdiparams, and the paddle2onnx executable. */
  paddleModelDir?: string;
  paddle2onnx?: string;
  /** Extra environment (e.g. PYTHONPATH). */
  env?: Record<string, string>;
  timeoutMs?: number;
}

export interface FrameworkExportResult {
  onnxFile: string;
  command: string[];
  stdout: string;
  stderr: string;
}

/** What to install, per library, when its exporter is missing. */
const INSTALL: Record<FrameworkLibrary, string> = {
  torchvision: 'torch and torchvision (pip install torch torchvision, or apt install python3-torch python3-torchvision)',
  timm: 'torch and timm (pip install timm==0.6.5)',
  mmcls: 'mmcls and its checkout (pip install mmcls mmcv-full onnx; git clone https://github.com/open-mmlab/mmclassification)',
  paddle: 'paddle2onnx (pip install PaddlePaddle==2.3.2 Paddle2ONNX==1.0.0)',
  keras: 'tf2onnx with TensorFlow (pip install tensorflow tf2onnx)',
};

/** tools/export_timm_torchvision_model.py of this checkout, found from the source or the built output. */
export function exportScript(): string {
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, 'tools', 'export_timm_torchvision_model.py');
    if (existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) throw new UserError('tools/export_timm_torchvision_model.py not found above ' + __dirname);
    dir = up;
  }
}

function need<T>(v: T | undefined, what: string, library: string): T {
  if (v === undefined || v === '') throw new UserError(`framework exporter ${library}: option '${what}' is required`);
  return v;
}

export function frameworkCommand(o: FrameworkExportOptions): { file: string; args: string[]; onnxFile: string } {
  const python = o.python ?? process.env['MODELZOO_PYTHON'] ?? 'python3';
  const size = String(o.size ?? 224);
  switch (o.library) {
    case 'torchvision':
    case 'timm': {
      const name = need(o.modelName, 'modelName', o.library);
      const args = [exportScript(), '--model_library', o.library, '--model_name', name, '--size', size, '--save_dir', o.outDir];
      if (o.weights) args.push('--pretrained_weights', o.weights);
      if (o.classes) args.push('--num_classes', String(o.classes));
      if (o.opset) args.push('--opset', String(o.opset));
      if (o.library === 'torchvision' && o.width !== undefined && o.width !== 1) args.push('--width_mult', String(o.width));
      return { file: python, args, onnxFile: path.join(o.outDir, `${name}.onnx`) };
    }
    case 'mmcls': {
      const root = need(o.mmclsRoot, 'mmclsRoot', 'mmcls');
      const script = path.join(root, 'tools', 'deployment', 'pytorch2onnx.py');
      if (!existsSync(script)) {
        throw new UserError(
          `framework exporter mmcls: option 'mmclsRoot' (${root}) holds no tools/deployment/pytorch2onnx.py; ` +
            `install ${INSTALL.mmcls}, or use the native exporter (exporter: 'native'), which needs no Python`,
        );
      }
      const onnxFile = path.join(o.outDir, 'mobilenet_v2.onnx');
      const args = [
        script,
        need(o.mmclsConfig, 'mmclsConfig', 'mmcls'),
        '--checkpoint',
        need(o.weights, 'weights', 'mmcls'),
        '--output-file',
        onnxFile,
        '--shape',
        size,
        size,
      ];
      if (o.opset) args.push('--opset-version', String(o.opset));
      return { file: python, args, onnxFile };
    }
    case 'paddle': {
      const dir = need(o.paddleModelDir, 'paddleModelDir', 'paddle');
      const onnxFile = path.join(o.outDir, 'model.onnx');
      // The page's command: opset 10, no dev version.
      const args = ['--model_dir', dir, '--model_filename', 'model.pdmodel', '--params_filename', 'model.pdiparams',
        '--save_file', onnxFile, '--enable_dev_version', 'False', '--opset_version', String(o.opset ?? 10)];
      return { file: o.paddle2onnx ?? 'paddle2onnx', args, onnxFile };
    }
    case 'keras': {
      const onnxFile = path.join(o.outDir, 'model.onnx');
      const args = ['-m', 'tf2onnx.convert', '--keras', need(o.weights, 'weights', 'keras'), '--output', onnxFile, '--opset', String(o.opset ?? 13)];
      return { file: python, args, onnxFile };
    }
  }
}

const MISSING_MODULE = /(?:ModuleNotFoundError|ImportError): No module named '([^']+)'|missing package: (\S+)|No module named ([\w.]+)/;

export async function runFrameworkExporter(o: FrameworkExportOptions): Promise<FrameworkExportResult> {
  const { file, args, onnxFile } = frameworkCommand(o);
  await fs.mkdir(o.outDir, { recursive: true });
  const { execa } = await import('execa');
  const r = await execa(file, args, {
    reject: false,
    all: false,
    env: { ...o.env },
    timeout: o.timeoutMs ?? 15 * 60_000,
    stdin: 'ignore',
  });
  const command = [file, ...args];
  const hint = `install ${INSTALL[o.library]}, or use the native exporter (exporter: 'native'), which needs no Python`;
  if ((r as { code?: string }).code === 'ENOENT' || (r.failed && r.exitCode === undefined && /ENOENT/.test(String(r.message)))) {
    throw new UserError(`framework exporter ${o.library}: '${file}' not found; ${hint}`);
  }
  if (r.exitCode !== 0) {
    const m = MISSING_MODULE.exec(r.stderr);
    if (m) throw new UserError(`framework exporter ${o.library}: missing Python package '${m[1] ?? m[2] ?? m[3]}' for ${file}; ${hint}`);
    const tail = r.stderr.split('\n').filter(Boolean).slice(-8).join('\n');
    throw new UserError(`framework exporter ${o.library} failed (exit ${r.exitCode ?? r.signal}): ${command.join(' ')}\n${tail}`);
  }
  try {
    await fs.access(onnxFile);
  } catch {
    throw new UserError(`framework exporter ${o.library} exited 0 but wrote no ${onnxFile}`);
  }
  return { onnxFile, command, stdout: r.stdout, stderr: r.stderr };
}
