/**
 * @hvsim/test-utils: the test code hvsim's packages share. The contract suites every TLB organization
 * and every MMU strategy must pass, the TLB fixtures of the vendor controls' tests, and (re-exported
 * from @hvsim/dev-utils) the README and benchmark helpers.
 */

/** Benchmarks as ratios to a baseline measured in the same run; README examples checked against their tests. */
export {
  type BenchCase,
  type BenchRow,
  compareToBaseline,
  reachableModules,
  readmeProblems,
  runTsProgram,
  tsBlocks,
  undocumentedExports,
  usesNode,
} from '@hvsim/dev-utils';
/** The MMU contract: what every `MmuStrategy` (native, nested on each vendor, shadow, your own) must do. */
export { describeMmuContract, type MmuUnderTest } from './mmu-contract.js';
/** The TLB contract: what every `TlbOrganization` must do, with hand-worked replacement sequences. */
export {
  describeTlbContract,
  type OrganizationUnderTest,
  type ReplacementUnderTest,
} from './tlb-contract.js';
/** TLB, walk cache and nested TLB filled with tagged entries, and which of them survive an operation. */
export { type Caches, cached, makeCaches, type Planted, plant, survivors } from './tlb-fixture.js';
