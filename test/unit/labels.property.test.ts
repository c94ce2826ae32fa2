import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { runs } from '../helpers/property';
import { UserError } from '../../plugins/modelzoo/src/lib/common/errors';
import { parseLabels } from '../../plugins/modelzoo/src/lib/dataset/labels';

const CLASSES = 1000;
const nameChar = fc.constantFrom(...'abcXYZ019_-.'.split(''));
// A relative file name: segments of safe characters (never '..' alone), '/' between them, and an
// occasional inner space (val_label.txt names may hold one; the label is the last field).
const segment = fc
  .array(nameChar, { minLength: 1, maxLength: 8 })
  .map((cs) => cs.join(''))
  .filter((s) => s !== '.' && s !== '..');
const fileName = fc
  .tuple(fc.array(segment, { minLength: 1, maxLength: 3 }), fc.boolean(), segment)
  .map(([segs, space, tail]) => segs.join('/') + (space ? ` ${tail}` : ''));
const blank = fc.constantFrom('', ' ', '\t', '  \t ');
const sep = fc.constantFrom(' ', '  ', '\t', ' \t ');
const pad = fc.constantFrom('', ' ', '\t', '   ');
const eol = fc.constantFrom('\n', '\r\n');

/** One label file: distinct files, each line spelled with any padding, separator, zero-padding and EOL. */
const labelFile = fc
  .uniqueArray(fc.tuple(fileName, fc.integer({ min: 0, max: CLASSES - 1 })), { minLength: 1, maxLength: 30, selector: ([f]) => f })
  .chain((entries) =>
    fc
      .tuple(
        fc.array(fc.tuple(pad, sep, pad, fc.integer({ min: 0, max: 3 }), fc.array(blank, { maxLength: 2 }), eol), {
          minLength: entries.length,
          maxLength: entries.length,
        }),
        fc.boolean(),
      )
      .map(([styles, finalEol]) => {
        const lines: string[] = [];
        const expected: { file: string; label: number; line: number }[] = [];
        let text = '';
        entries.forEach(([file, label], i) => {
          const [lead, between, trail, zeros, blanks, nl] = styles[i]!;
          for (const b of blanks) {
            lines.push(b);
            text += b + nl;
          }
          const spelled = '0'.repeat(zeros) + String(label);
          lines.push(`${lead}${file}${between}${spelled}${trail}`);
          expected.push({ file, label, line: lines.length });
          text += lines[lines.length - 1] + (i < entries.length - 1 || finalEol ? nl : '');
        });
        return { text, expected };
      }),
  );

test('property: any padding, separator, zero-padded index, blank lines and LF/CRLF parse to the same entries with their line numbers', () => {
  fc.assert(
    fc.property(labelFile, ({ text, expected }) => {
      assert.deepEqual(parseLabels(text, 'val_label.txt', CLASSES), expected);
    }),
    { numRuns: runs(300) },
  );
});

test('property: an out-of-range index is refused naming its line; a repeated file names both lines', () => {
  fc.assert(
    fc.property(labelFile, fc.nat(), fc.integer({ min: CLASSES, max: 10 * CLASSES }), ({ expected }, pick, bad) => {
      const victim = expected[pick % expected.length]!;
      const lines = expected.map((e) => `${e.file} ${e === victim ? bad : e.label}`);
      assert.throws(
        () => parseLabels(lines.join('\n'), 'L', CLASSES),
        (e: Error) => e instanceof UserError && e.message.startsWith(`L:${expected.indexOf(victim) + 1}: class index ${bad} out of range`),
      );
      const dup = [...expected.map((e) => `${e.file} ${e.label}`), `${victim.file} 0`];
      assert.throws(
        () => parseLabels(dup.join('\r\n'), 'L', CLASSES),
        (e: Error) =>
          e instanceof UserError && e.message.startsWith(`L:${dup.length}: '${victim.file}' already listed on line ${expected.indexOf(victim) + 1}`),
      );
    }),
    { numRuns: runs(100) },
  );
});

test('property: absolute paths and paths that climb out of the images folder are refused', () => {
  fc.assert(
    fc.property(fileName, fc.constantFrom('/', '../', 'a/../../', '..\\'), (file, prefix) => {
      const name = prefix === '/' ? `/${file}` : `${prefix}${file}`;
      assert.throws(() => parseLabels(`ok.JPEG 1\n${name} 3\n`, 'L', CLASSES), (e: Error) => e instanceof UserError && e.message.startsWith('L:2:') && /must be a relative path inside the images folder/.test(e.message));
    }),
    { numRuns: runs(100) },
  );
});
