/**
 * The whole pipeline on a lackey trace: read and parse the text, drive the guest OS record by record,
 * translate each access through a two-level TLB (Skylake-class: L1 DTLB and L1 ITLB over the STLB)
 * and the paging-structure cache, natively and under AMD NPT (4 KiB nested pages, ASID-tagged, a
 * timer exit every 10 000 accesses). The baseline only reads and parses the same trace, so each
 * ratio is what simulating costs over reading.
 *
 * The trace is a real program's when it is there: `sort` traced by Valgrind lackey, which
 * `scripts/make-lackey-trace.sh` writes to packages/traces/test-artifacts/sort.lackey (about 7
 * million records). Otherwise one is generated here (seeded): instruction fetches running through
 * code with branches, stack accesses, and a heap walked in runs of 8-byte steps from random places,
 * the places skewed towards the heap's start.
 *
 * Run: pnpm --filter @hvsim/sim bench
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPreset, runConfig, type SimConfig } from '@hvsim/sim';
import { compareToBaseline } from '@hvsim/test-utils';
import { openTrace } from '@hvsim/traces';

/** Records each case runs: tinybench makes at least 64 iterations, so a whole 7-million-record trace would take minutes. */
const RECORDS_WANTED = 2_000_000;

/** The first `lines` lines of a text file (a lackey trace's first records, its header lines among them). */
function head(file: string, lines: number): Buffer {
  const bytes = readFileSync(file);
  let end = 0;
  for (let n = 0; n < lines && end >= 0; n++) end = bytes.indexOf(10, end) + 1 || -1;
  return end < 0 ? bytes : bytes.subarray(0, end);
}

/** A lackey `--trace-mem=yes` text of `n` records (xorshift32-seeded, so every run reads the same bytes). */
function lackeyTrace(n: number): string {
  let x = 0x9e3779b9;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const lines: string[] = ['==1== Lackey, an example Valgrind tool'];
  let pc = 0x0040_1000;
  let cursor = 0x0100_0000;
  for (let i = 0; i < n; i++) {
    const r = next();
    if (r % 3 === 0) {
      pc = r % 16 === 0 ? 0x0040_0000 + ((next() % 0x2_0000) & ~3) : pc + 4;
      lines.push(`I  ${pc.toString(16).padStart(8, '0')},4`);
      continue;
    }
    let address: number;
    if (r % 5 === 0) address = 0x7ff0_0000 + (next() % 0x1_0000);
    else {
      // A run of 8-byte steps; every 256th access jumps somewhere in a 32 MiB heap (u^3: mostly its start).
      if (r % 256 === 1) {
        const u = (next() % 1_000_000) / 1_000_000;
        cursor = 0x0100_0000 + Math.floor(u * u * u * 0x200_0000);
      }
      cursor += 8;
      address = cursor;
    }
    const kind = r % 7 === 0 ? 'M' : r % 2 === 0 ? 'S' : 'L';
    lines.push(` ${kind} ${(address & ~7).toString(16).padStart(8, '0')},8`);
  }
  return `${lines.join('\n')}\n`;
}

const real = fileURLToPath(new URL('../../traces/test-artifacts/sort.lackey', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'hvsim-bench-'));
const path = join(dir, 'trace.lackey');
const fromReal = existsSync(real);
writeFileSync(path, fromReal ? head(real, RECORDS_WANTED) : lackeyTrace(RECORDS_WANTED));
let RECORDS = 0;
for await (const batch of openTrace(path, { format: 'lackey' })) RECORDS += batch.length;
const what = fromReal
  ? `the first ${RECORDS.toLocaleString('en-US')} records of sort traced by Valgrind lackey`
  : `a generated lackey trace of ${RECORDS.toLocaleString('en-US')} records`;
const spec = { kind: 'trace', path, format: 'lackey' } as const;
const native: SimConfig = loadPreset('native');
const npt: SimConfig = loadPreset('npt-4k');

try {
  await compareToBaseline(
    `whole pipeline on ${what}: records per second, against only reading and parsing it`,
    {
      name: 'read + parse only',
      ops: RECORDS,
      fn: async () => {
        let n = 0;
        for await (const batch of openTrace(path, { format: 'lackey' })) n += batch.length;
        if (n !== RECORDS) throw new Error(`read ${n} records`);
      },
    },
    [
      {
        name: 'native, Skylake TLB + PWC',
        ops: RECORDS,
        fn: async () => void (await runConfig(native, spec)),
      },
      {
        name: 'AMD NPT 4K, Skylake TLB + PWC',
        ops: RECORDS,
        fn: async () => void (await runConfig(npt, spec)),
      },
    ],
    { time: 3000 },
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
