import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { writeTinyDataset } from '../helpers/tiny-dataset';
import { progressOf } from '../helpers/stderr-capture';
import { pixelModel } from '../helpers/tiny-onnx';
import { type OpenDataset, openDataset } from '../../plugins/modelzoo/src/lib/dataset/reader';
import { runEval } from '../../plugins/modelzoo/src/lib/eval/run-eval';
import { createSession } from '../../plugins/modelzoo/src/lib/runtime/session';
import { DataType, encodeModel, int64Tensor, makeModel, node, onnx, valueInfo } from '../../plugins/modelzoo/src/lib/onnx/proto';

// runEval's observable contract beyond the labels (eval-order.test.ts): the probe batch's size, the
// intra-op thread count it asks ONNX Runtime for, the session released afterwards, and its progress.

const SIZE = 2;
const IMAGE = 3 * SIZE * SIZE;

/** Output [1, N * 12]: its "class count" is the batch's pixel count, so it reports the probe's batch size. */
function batchSizeReporter(): Uint8Array {
  const graph = onnx.GraphProto.create({
    name: 'whole-batch',
    node: [node('Cast', ['input'], ['f'], { to: DataType.FLOAT }), node('Reshape', ['f', 'shape'], ['logits'])],
    initializer: [int64Tensor('shape', [2], [1, -1])],
    input: [valueInfo('input', DataType.UINT8, ['N', 3, SIZE, SIZE])],
    output: [valueInfo('logits', DataType.FLOAT, [1, 'M'])],
  });
  return encodeModel(makeModel(graph, 13));
}

async function tinyDataset(count: number, classes: number): Promise<{ dir: string; ds: OpenDataset }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mut-eval-run-'));
  writeTinyDataset(dir, { count, classes, size: SIZE, shardSize: 4 });
  return { dir, ds: await openDataset(dir) };
}

async function cleanup(dir: string, ds: OpenDataset): Promise<void> {
  await ds.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

test('the class-count probe runs one full batch: min(batch, images), at least 1', async () => {
  const { dir, ds } = await tinyDataset(11, 4);
  try {
    const message = (n: number) => `the model has ${n * IMAGE} output classes but the dataset's labels are for 4 classes`;
    // batch 3 of 11 images: a probe of 3 images (not 1, not 11)
    await assert.rejects(runEval({ model: batchSizeReporter(), dataset: ds, batch: 3, threads: 1 }), (e: Error) => e.message.startsWith(message(3)));
    // batch 8 of 2 images: the probe is clamped to the 2 images
    await assert.rejects(
      runEval({ model: batchSizeReporter(), dataset: ds, batch: 8, threads: 1, indices: [5, 1] }),
      (e: Error) => e.message.startsWith(message(2)),
    );
    // no image at all: still a probe of one image (a zero-sized batch says nothing about the classes)
    await assert.rejects(
      runEval({ model: batchSizeReporter(), dataset: ds, batch: 4, threads: 1, indices: [] }),
      (e: Error) => e.message.startsWith(message(1)),
    );
  } finally {
    await cleanup(dir, ds);
  }
});

const TASKS = '/proc/self/task';
const threadCount = () => fs.readdirSync(TASKS).length;

test(
  'ONNX Runtime gets the requested intra-op thread count, and the session (its threads) is released after the run',
  { skip: !fs.existsSync(TASKS) && 'needs /proc/self/task (Linux)' },
  async () => {
    const { dir, ds } = await tinyDataset(6, 4);
    try {
      // ONNX Runtime's process-wide threads start with the first session: start them before the baseline.
      await (await createSession(pixelModel(4, SIZE), { threads: 1 })).release();
      const base = threadCount();
      // More threads than cores, so the figure differs from ONNX Runtime's own default (one per core).
      const threads = os.availableParallelism() + 3;
      const during: number[] = [];
      const watched: OpenDataset = {
        ...ds,
        async *batches(indices, size) {
          for await (const b of ds.batches(indices, size)) {
            during.push(threadCount());
            yield b;
          }
        },
      };
      const run = await runEval({ model: pixelModel(4, SIZE), dataset: watched, batch: 4, threads });
      assert.equal(run.counter.summary().images, 6);
      assert.deepEqual(during, [base + threads - 1, base + threads - 1], 'intra-op pool: threads - 1 workers beside the caller');
      assert.equal(threadCount(), base, 'the session is released: its worker threads are gone');
      // And one thread means no worker at all.
      during.length = 0;
      await runEval({ model: pixelModel(4, SIZE), dataset: watched, batch: 6, threads: 1 });
      assert.deepEqual(during, [base]);
      // A failing run releases its session too.
      ds.manifest.classes = 5;
      await assert.rejects(runEval({ model: pixelModel(4, SIZE), dataset: watched, batch: 4, threads }), /output classes/);
      assert.equal(threadCount(), base);
    } finally {
      await cleanup(dir, ds);
    }
  },
);

test("progress counts the images done, under the run's label or 'eval'", async () => {
  const { dir, ds } = await tinyDataset(7, 4);
  try {
    const plain = await progressOf(() => runEval({ model: pixelModel(4, SIZE), dataset: ds, batch: 3, threads: 1 }));
    // The first batch prints (nothing printed yet), the last one always; in between within 2 s, not.
    assert.ok(plain.length >= 2 && plain.length <= 3, plain.join(''));
    assert.match(plain[0]!, /^\[eval\] 3\/7 \(42\.9%\)( \d+\.\d\/s eta \S+)?\n$/);
    assert.match(plain.at(-1)!, /^\[eval\] 7\/7 \(100\.0%\)( \d+\.\d\/s)? in \d+\.\ds\n$/);
    const labelled = await progressOf(() => runEval({ model: pixelModel(4, SIZE), dataset: ds, batch: 4, threads: 1, indices: [6, 2, 0, 1, 3], label: 'eval fp32' }));
    assert.match(labelled[0]!, /^\[eval fp32\] 4\/5 \(80\.0%\)( \d+\.\d\/s eta \S+)?\n$/);
    assert.match(labelled.at(-1)!, /^\[eval fp32\] 5\/5 \(100\.0%\)( \d+\.\d\/s)? in \d+\.\ds\n$/);
  } finally {
    await cleanup(dir, ds);
  }
});
