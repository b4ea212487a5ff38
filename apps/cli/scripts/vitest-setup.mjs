// Builds the command line's bundle once before the tests spawn it side by side (see dev-bundle.mjs).
import { ensureBundle } from './dev-bundle.mjs';

export default async function setup() {
  await ensureBundle();
}
