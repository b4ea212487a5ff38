export { type BenchCase, type BenchRow, compareToBaseline } from './bench.js';
export { readmeProblems, runTsProgram, tsBlocks, undocumentedExports } from './readme.js';
