// The long fuzz run's worker (config-fuzz.ts): registers tsx in this thread, which does not inherit
// the main thread's loader hooks, and runs the inputs it is given.
import { register } from 'tsx/esm/api';

register();
await import('./config-fuzz-work.ts');
