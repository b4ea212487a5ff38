/**
 * `array`, or a copy of it grown by doubling until `index` fits (new slots 0): for the index-keyed
 * tables the hypervisor keeps of frames and backing pages, which grow as memory is touched.
 */
export function grownToHold(array: Float64Array<ArrayBuffer>, index: number): Float64Array<ArrayBuffer> {
  if (index < array.length) return array;
  let size = Math.max(1, array.length);
  while (size <= index) size *= 2;
  const grown = new Float64Array(size);
  grown.set(array);
  return grown;
}
