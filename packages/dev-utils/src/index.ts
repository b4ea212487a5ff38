/** Benchmarks reported as ratios to a baseline measured in the same run. */
export { type BenchCase, type BenchRow, compareToBaseline } from './bench.js';
/** README examples checked against the tests that run them. */
export { readmeProblems, runTsProgram, tsBlocks, undocumentedExports } from './readme.js';
