import { rowKey, rowLabel } from './diff';
import type { ReportRow } from './report';

/**
 * What the HTML report's charts draw, computed here (plain, testable) and embedded as JSON; the page
 * only hands it to the chart library. `expected` is the number of marks each chart must show, which
 * the page compares with what the library actually drew.
 */
export interface Point {
  x: number;
  y: number;
  label: string;
}

export interface LatencyRow {
  key: string;
  label: string;
  batches: { batch: number; min?: number; mean?: number; p50?: number; p90?: number; p95?: number; p99?: number; max?: number }[];
}

export interface ChartData {
  pareto: { groups: { name: string; points: Point[] }[]; front: Point[]; expected: number };
  int8: { labels: string[]; drop: (number | null)[]; speedup: (number | null)[]; expected: { drop: number; speedup: number } };
  latency: { labels: string[]; batches: { batch: number; bars: ([number, number] | null)[]; detail: (LatencyRow['batches'][number] | null)[] }[]; expected: number };
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

export function groupName(r: ReportRow): string {
  return r.backend && r.backend !== 'onnxruntime' ? `${r.precision} (${r.backend}${r.standIn ? ' stand-in' : ''})` : r.precision;
}

/** Points no other point beats on both top-1 and img/s (ties on one axis need a strict win on the other). */
export function paretoFront(points: Point[]): Point[] {
  const front = points.filter((p) => !points.some((q) => q !== p && q.x >= p.x && q.y >= p.y && (q.x > p.x || q.y > p.y)));
  return front.sort((a, b) => a.x - b.x || a.y - b.y);
}

export function chartData(rows: ReportRow[], latency: LatencyRow[] = []): ChartData {
  const groups = new Map<string, Point[]>();
  for (const r of rows) {
    if (!isNum(r.top1) || !isNum(r.imgPerSec)) continue;
    const g = groupName(r);
    if (!groups.has(g)) groups.set(g, []);
    groups.get(g)!.push({ x: r.imgPerSec, y: r.top1, label: rowLabel(r) });
  }
  const all = [...groups.values()].flat();
  const int8 = rows.filter((r) => r.precision === 'int8');
  const bySize = [...new Set(latency.flatMap((l) => l.batches.map((b) => b.batch)))].sort((a, b) => a - b);
  const batches = bySize.map((batch) => {
    const detail = latency.map((l) => l.batches.find((b) => b.batch === batch) ?? null);
    return { batch, detail, bars: detail.map((d) => (d && isNum(d.p50) && isNum(d.p99) ? ([d.p50, d.p99] as [number, number]) : null)) };
  });
  return {
    pareto: { groups: [...groups].map(([name, points]) => ({ name, points })), front: paretoFront(all), expected: all.length },
    int8: {
      labels: int8.map((r) => `${r.variant}${r.backend && r.backend !== 'onnxruntime' ? ` (${r.backend})` : ''}`),
      drop: int8.map((r) => (isNum(r.top1Drop) ? r.top1Drop : null)),
      speedup: int8.map((r) => (isNum(r.speedup) ? r.speedup : null)),
      expected: { drop: int8.filter((r) => isNum(r.top1Drop)).length, speedup: int8.filter((r) => isNum(r.speedup)).length },
    },
    latency: {
      labels: latency.map((l) => l.label),
      batches,
      expected: batches.reduce((n, b) => n + b.bars.filter(Boolean).length, 0),
    },
  };
}

/** Per-batch latency percentiles of every row, from the paired bench run the row's figures come from. */
export function latencyRows(rows: ReportRow[]): LatencyRow[] {
  const out: LatencyRow[] = [];
  for (const r of rows) {
    const batches = (r.bench ?? [])
      .filter((b) => isNum(b.batch) && b.latencyMs)
      .map((b) => {
        const l = b.latencyMs as unknown as Record<string, unknown>;
        const pick = (k: string) => (isNum(l[k]) ? (l[k] as number) : undefined);
        return { batch: b.batch, min: pick('min'), mean: pick('mean'), p50: pick('p50'), p90: pick('p90'), p95: pick('p95'), p99: pick('p99'), max: pick('max') };
      })
      .sort((a, b) => a.batch - b.batch);
    if (batches.length) out.push({ key: rowKey(r), label: rowLabel({ ...r, project: r.variant }), batches });
  }
  return out;
}
