import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runs } from '../helpers/property';
import { type LatencyBlock, STAND_IN_MARKER, type VampReport, parseVampOutput } from '../../plugins/modelzoo/src/lib/vastai/vamp-output';

// vamp's report (see ../shared/reference/vastmodelzoo/vamp-output-samples.txt): versions print the
// optional lines in different orders, with or without "- ", indented or not, decorated with "***".
const decimal = fc
  .tuple(fc.integer({ min: 0, max: 99999 }), fc.integer({ min: 0, max: 9999 }), fc.boolean())
  .map(([i, f, frac]) => (frac ? `${i}.${f}` : String(i)));
const style = fc.constantFrom(
  (l: string) => l,
  (l: string) => `- ${l}`,
  (l: string) => `    ${l}`,
  (l: string) => `  - ${l}`,
  (l: string) => `*** ${l} ****`,
);

interface Item {
  lines: string[];
  apply(r: VampReport): void;
}

const scalar = (spellings: string[], field: keyof VampReport): fc.Arbitrary<Item> =>
  fc.tuple(fc.constantFrom(...spellings), decimal, fc.constantFrom(': ', ':', ' : ')).map(([key, v, colon]) => ({
    lines: [`${key}${colon}${v}`],
    apply: (r) => void ((r as unknown as Record<string, unknown>)[field] = Number(v)),
  }));

const STATS = ['avg', 'min', 'max', 'p50', 'p90', 'p95', 'p99'] as const;
const latency = (which: 'e2e' | 'model'): fc.Arbitrary<Item> =>
  fc
    .tuple(
      fc.constantFrom(['us', 1], ['ms', 1e3], ['s', 1e6]),
      fc.shuffledSubarray([...STATS], { minLength: 1 }),
      fc.array(decimal, { minLength: 7, maxLength: 7 }),
    )
    .map(([[unit, scale], stats, values]) => ({
      lines: [`${which} latency (${unit}):`, ...stats.map((s, i) => `    ${s} latency: ${values[i]}`)],
      apply: (r) => {
        const b: LatencyBlock = {};
        stats.forEach((s, i) => (b[s] = Number(values[i]) * (scale as number)));
        if (which === 'e2e') r.e2eLatencyUs = b;
        else r.modelLatencyUs = b;
      },
    }));

const io = (kind: 'input' | 'output', index: number): fc.Arbitrary<Item> =>
  fc.tuple(fc.array(fc.integer({ min: 1, max: 1024 }), { minLength: 1, maxLength: 4 }), fc.constantFrom('u1', 'f2', 'f4')).map(([shape, dtype]) => ({
    lines: [`${kind}[${index}]: [${shape.join(',')}], dtype:${dtype}`],
    apply: (r) => void ((kind === 'input' ? r.inputs : r.outputs)[index] = { shape, dtype }),
  }));

const devices: fc.Arbitrary<Item> = fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 1, maxLength: 4 }).map((ds) => ({
  lines: [`devices: [${ds.join(', ')}]`],
  apply: (r) => void (r.devices = ds),
}));

const other: fc.Arbitrary<Item> = fc.constantFrom('Inference start time', 'input_count', 'some new field').chain((key) =>
  decimal.map((v) => ({ lines: [`${key}: ${v}`], apply: (r: VampReport) => void (r.other[key.toLowerCase()] = v) })),
);

const items = fc.record(
  {
    instances: scalar(['number of instances in each device'], 'instances'),
    devices,
    batch: scalar(['batch size'], 'batch'),
    samples: scalar(['samples'], 'samples'),
    perProcess: scalar(['number of samples in each process'], 'samplesPerProcess'),
    processes: scalar(['number of process', 'number of processes'], 'processes'),
    maxBatch: scalar(['[max_batch_size_]', 'max_batch_size'], 'maxBatchSize'),
    forward: scalar(['forwad time (s)', 'forward time (s)'], 'forwardSeconds'),
    qps: scalar(['throughput (qps)'], 'throughputQps'),
    ai: scalar(['ai utilize (%)'], 'aiUtilizePct'),
    temp: scalar(['temperature (°C)', 'temperature (C)'], 'temperatureC'),
    power: scalar(['card power (W)'], 'cardPowerW'),
    mem: scalar(['die memory used (MB)'], 'dieMemoryMB'),
    e2e: latency('e2e'),
    model: latency('model'),
    in0: io('input', 0),
    out0: io('output', 0),
    other,
  },
  { requiredKeys: [] },
);

test('property: any subset of the report lines, in any order and style, with LF or CRLF, parses to the same report', () => {
  fc.assert(
    fc.property(
      items.chain((rec) => fc.shuffledSubarray(Object.values(rec) as Item[], { minLength: Object.keys(rec).length })),
      fc.array(style, { minLength: 40, maxLength: 40 }),
      fc.constantFrom('\n', '\r\n'),
      fc.boolean(),
      (order, styles, eol, standIn) => {
        const expected: VampReport = { inputs: [], outputs: [], standIn, other: {} };
        const lines: string[] = [];
        if (standIn) lines.push(`# ${STAND_IN_MARKER}`);
        let s = 0;
        for (const item of order) {
          const [head, ...rest] = item.lines;
          // a latency block's stat lines stay right under their header; the header may be styled
          lines.push(styles[s++ % styles.length]!(head!), ...rest);
          item.apply(expected);
        }
        assert.deepEqual(parseVampOutput(lines.join(eol) + eol), expected);
      },
    ),
    { numRuns: runs(300) },
  );
});

test('property: a line that is not a stat ends a latency block; later stat lines are not attributed to it', () => {
  fc.assert(
    fc.property(decimal, decimal, (a, b) => {
      const r = parseVampOutput(`e2e latency (us):\n  avg latency: ${a}\nbatch size: 4\n  min latency: ${b}\n`);
      assert.deepEqual(r.e2eLatencyUs, { avg: Number(a) });
      assert.equal(r.batch, 4);
      assert.equal(r.other['min latency'], b);
    }),
    { numRuns: runs(50) },
  );
});
