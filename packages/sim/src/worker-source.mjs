// The pool worker when hvsim runs from TypeScript source (development and tests): registers tsx in
// this thread (a worker thread does not inherit the main thread's loader hooks) and loads worker.ts.
import { register } from 'tsx/esm/api';

register();
const { default: runTask } = await import('./worker.ts');
export default runTask;
