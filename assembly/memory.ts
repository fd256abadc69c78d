// Linear memory above __heap_base belongs to the TypeScript allocator; kernels never allocate.
export function heapBase(): usize {
  return __heap_base;
}
