/** Benchmarks reported as ratios to a baseline measured in the same run. */
export { type BenchCase, type BenchRow, compareToBaseline } from './bench.js';
/** Which source files an entry point reaches, and which of them need Node (browser-safety checks). */
export { reachableModules, usesNode } from './modules.js';
/** README examples checked against the tests that run them. */
export { readmeProblems, runTsProgram, tsBlocks, undocumentedExports } from './readme.js';
