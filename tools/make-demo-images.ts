/**
 * Generates data/demo/: a small synthetic, redistributable image set (our own pixels, no third-party
 * photos) for running the pipeline without ImageNet. Deterministic: same bytes on every run for a given
 * sharp/mozjpeg version. Four "classes" of procedural textures, six images each, varied sizes and
 * orientations; one grayscale JPEG and one RGBA PNG exercise the decoder's convert('RGB') paths.
 *
 *   npx tsx tools/make-demo-images.ts [OUT_DIR]
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';

const CLASSES = ['rings', 'stripes', 'checker', 'blobs'] as const;
const PER_CLASS = 6;
const SIZES: [number, number][] = [
  [320, 240],
  [240, 320],
  [288, 288],
  [360, 240],
  [256, 300],
  [300, 226],
];

/** mulberry32: tiny seeded PRNG so the set is reproducible. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function render(cls: (typeof CLASSES)[number], w: number, h: number, seed: number, noise = 24): Uint8Array {
  const r = rng(seed);
  const px = new Uint8Array(w * h * 3);
  const base = [r() * 255, r() * 255, r() * 255];
  const alt = [r() * 255, r() * 255, r() * 255];
  const freq = 0.03 + r() * 0.08;
  const angle = r() * Math.PI;
  const cx = w * (0.3 + 0.4 * r());
  const cy = h * (0.3 + 0.4 * r());
  const blobs = Array.from({ length: 6 }, () => [r() * w, r() * h, 15 + r() * 50]);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let t: number;
      if (cls === 'rings') t = 0.5 + 0.5 * Math.sin(Math.hypot(x - cx, y - cy) * freq * 2);
      else if (cls === 'stripes') t = 0.5 + 0.5 * Math.sin((x * Math.cos(angle) + y * Math.sin(angle)) * freq * 2);
      else if (cls === 'checker') t = (Math.floor(x * freq * 0.5) + Math.floor(y * freq * 0.5)) % 2;
      else t = blobs.some(([bx, by, br]) => Math.hypot(x - bx!, y - by!) < br!) ? 1 : (0.3 * y) / h;
      const grain = (r() - 0.5) * noise; // sensor-like noise so JPEG coding and resampling see texture
      const o = (y * w + x) * 3;
      for (let c = 0; c < 3; c++) {
        const v = base[c]! * (1 - t) + alt[c]! * t + grain + (20 * x) / w;
        px[o + c] = v < 0 ? 0 : v > 255 ? 255 : v;
      }
    }
  }
  return px;
}

async function main(): Promise<void> {
  const out = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'data', 'demo'));
  fs.mkdirSync(out, { recursive: true });
  const labels: string[] = [];
  for (let ci = 0; ci < CLASSES.length; ci++) {
    const cls = CLASSES[ci]!;
    for (let k = 0; k < PER_CLASS; k++) {
      const png = ci === 1 && k === 5;
      // The PNG is small and noise-free: lossless noise would cost more bytes than all the JPEGs.
      const [w, h] = png ? [200, 150] : SIZES[(k + ci) % SIZES.length]!;
      const px = render(cls, w, h, 1000 * ci + k + 1, png ? 0 : 24);
      const img = sharp(px, { raw: { width: w, height: h, channels: 3 } });
      let name: string;
      if (png) {
        name = `${cls}_${k}.png`;
        // RGBA: alpha varies so a decoder that composited instead of dropping alpha would show it.
        const alpha = Buffer.alloc(w * h);
        for (let i = 0; i < alpha.length; i++) alpha[i] = 64 + Math.floor((192 * (i % w)) / w);
        await img.joinChannel(alpha, { raw: { width: w, height: h, channels: 1 } }).png({ compressionLevel: 9 }).toFile(path.join(out, name));
      } else if (ci === 2 && k === 5) {
        name = `${cls}_${k}.jpg`;
        await img.toColourspace('b-w').jpeg({ quality: 60 }).toFile(path.join(out, name));
      } else {
        name = `${cls}_${k}.jpg`;
        await img.jpeg({ quality: 60, chromaSubsampling: '4:2:0' }).toFile(path.join(out, name));
      }
      labels.push(`${name} ${ci}`);
    }
  }
  fs.writeFileSync(path.join(out, 'val_label.txt'), labels.join('\n') + '\n');
  let total = 0;
  for (const f of fs.readdirSync(out)) total += fs.statSync(path.join(out, f)).size;
  process.stdout.write(JSON.stringify({ dir: out, images: labels.length, bytes: total }) + '\n');
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
