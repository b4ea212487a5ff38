export { type BenchCase, type BenchRow, compareToBaseline } from './bench.js';
