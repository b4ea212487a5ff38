import { mixNumber, mixWord } from './digest.js';
import type { GuestOs, Process } from './guest-os.js';
import { walkTables } from './page-tables.js';

/**
 * The digest of every live process's page tables, read back through the guest's view of its memory
 * (`GuestCpu.readPhysical`): pid by pid, each present entry's level, page and both halves, A and D
 * bits included, so a platform that sets them differently from the manual's rules shows here.
 */
export function pageTableDigest(os: GuestOs): number {
  let hash = 0x811c9dc5;
  for (const process of liveProcesses(os)) {
    hash = mixWord(hash, process.pid);
    hash = mixNumber(hash, process.root);
    walkTables(os.memory, os.format, process.root, 0, Number.MAX_SAFE_INTEGER, {
      leaf: (_entry, lo, hi, vpn, level) => {
        hash = mixWord(mixWord(mixNumber(mixWord(hash, level), vpn), lo), hi);
      },
      table: (_entry, lo, hi, _table, level, vpn) => {
        hash = mixWord(mixWord(mixNumber(mixWord(hash, 0x100 | (level + 1)), vpn), lo), hi);
      },
    });
  }
  return hash >>> 0;
}

/**
 * The guest-visible result of a run as one 32-bit number: every access outcome in order
 * (`os.accessDigest`) and the final page tables of every live process. The same workload and seed
 * must give the same digest natively and under NPT, EPT or shadow paging.
 */
export function guestDigest(os: GuestOs): number {
  return mixWord(os.accessDigest, pageTableDigest(os)) >>> 0;
}

/** Every live process's leaf entries, one line each (`pid 3 L1 0x00007f0000001000 -> lo hi`), for diffing two runs. */
export function dumpPageTables(os: GuestOs): string[] {
  const lines: string[] = [];
  const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');
  for (const process of liveProcesses(os)) {
    lines.push(`pid ${process.pid} root 0x${hex(process.root, 9)} pcid ${process.pcid}`);
    walkTables(os.memory, os.format, process.root, 0, Number.MAX_SAFE_INTEGER, {
      leaf: (_entry, lo, hi, vpn, level) => {
        lines.push(
          `pid ${process.pid} L${level} 0x${hex(vpn * 4096, 16)} -> ${hex(hi >>> 0, 8)}${hex(lo >>> 0, 8)}`,
        );
      },
    });
  }
  return lines;
}

function liveProcesses(os: GuestOs): Process[] {
  return [...os.processes.values()].sort((a, b) => a.pid - b.pid);
}
