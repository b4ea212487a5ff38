import type { AccessKind } from './access-kind.js';
import { type PageSize, sizeCode } from './page-size.js';
import type { TagTable } from './tag-table.js';
import { TLB_MISS } from './tlb-organization.js';
import { TranslationCache, type TranslationCacheConfig } from './translation-cache.js';

/** One level of a hierarchy: the structures probed together (e.g. Skylake's L1 DTLB has one per size). */
export interface TlbLevelConfig {
  /** The level's name, which paths refer to, e.g. "L1 DTLB" or "STLB". */
  readonly name: string;
  /** Its structures, in probe order. */
  readonly caches: readonly TranslationCacheConfig[];
}

/**
 * A level of a TLB hierarchy: structures looked up in order, the first match answering. A fill goes to
 * the structure that holds the page size, else to the one that can hold a splinter of it.
 */
export class TlbLevel {
  /** The level's name. */
  declare readonly name: string;
  /** Its structures, in probe order. */
  declare readonly caches: readonly TranslationCache[];
  /** Index in `caches` of the structure the last lookup matched in (-1 after a miss). */
  hitCache = -1;

  constructor(config: TlbLevelConfig, tags: TagTable) {
    this.name = config.name;
    this.caches = config.caches.map(
      (c, i) => new TranslationCache({ ...c, name: c.name ?? `${config.name} #${i}` }, tags),
    );
  }

  /** Looks up every structure in order; returns the first hit or permission miss, else `TLB_MISS`. */
  lookup(ctx: number, vpn: number, access: AccessKind, need: number): number {
    const caches = this.caches;
    for (let i = 0; i < caches.length; i++) {
      const r = caches[i].lookup(ctx, vpn, access, need);
      if (r !== TLB_MISS) {
        this.hitCache = i;
        return r;
      }
    }
    this.hitCache = -1;
    return TLB_MISS;
  }

  /** The structure a page of `pageSize` goes to: one holding the size, else one holding a splinter. */
  target(pageSize: PageSize): TranslationCache | null {
    return this.targetCode(sizeCode(pageSize));
  }

  /** `target` by size code. */
  targetCode(code: number): TranslationCache | null {
    let splinter: TranslationCache | null = null;
    let best = -1;
    for (const c of this.caches) {
      const s = c.storedCodeFor(code);
      if (s === code) return c;
      // Splinters are 2 MiB or 4 KiB: the larger code is the larger piece.
      if (s > best) {
        best = s;
        splinter = c;
      }
    }
    return splinter;
  }

  /** See `TaggedStore.removeStale`, for every structure of the level. */
  removeStale(
    ctx: number,
    vpn: number,
    origKey: number,
    storedCtx: number,
    perms: number,
    attrs: number,
    pageBase: number,
  ): void {
    for (const c of this.caches) c.removeStale(ctx, vpn, origKey, storedCtx, perms, attrs, pageBase);
  }

  /** Removes entries stored under `storedCtx` that overlap [start, start + span) (back-invalidation). */
  removeOverlapping(storedCtx: number, start: number, span: number): void {
    for (const c of this.caches) c.removeOverlapping(storedCtx, start, span);
  }
}
