export { type BenchCase, type BenchRow, compareToBaseline } from './bench.js';
export { readmeProblems, undocumentedExports } from './readme.js';
