// Predicates for the preconditions every kernel asserts on entry in the debug build (the tests run kernels on it):
// `assert(inside(y, m * B), "csrSpmm: Y outside memory")` sits in the kernel, so a failure names its line there.
// Kernels assert under `if (!ASC_NO_ASSERT)`, which the release build (noAssert) compiles to nothing: its module is
// the same bytes with or without them. An operand is a region of 4-byte elements that must lie in the memory
// TypeScript owns (above __heap_base), and an output must not overlap what the kernel still reads. Messages are
// string literals: building one would allocate, and memory above __heap_base belongs to the TypeScript allocator.

/** n ≥ 0 elements of 4 bytes at ptr: 4-byte aligned, above the module's static data, inside memory. */
@inline export function inside(ptr: usize, n: i64): bool {
  const end = <u64>memory.size() << 16;
  return n >= 0 && (ptr & 3) == 0 && ptr >= __heap_base && <u64>ptr + (<u64>n << 2) <= end;
}

/** The same for an optional operand (pointer 0: absent). */
@inline export function insideIf(ptr: usize, n: i64): bool {
  return ptr == 0 || inside(ptr, n);
}

/** The regions [a, a + 4n) and [b, b + 4m) do not overlap. */
@inline export function apart(a: usize, n: i64, b: usize, m: i64): bool {
  return n == 0 || m == 0 || <u64>a + (<u64>n << 2) <= <u64>b || <u64>b + (<u64>m << 2) <= <u64>a;
}

/** Elementwise kernels may work in place: the regions are the same or do not overlap. */
@inline export function sameOrApart(a: usize, n: i64, b: usize, m: i64): bool {
  return a == b || apart(a, n, b, m);
}

/** ptr[0..n] lies in memory, starts at 0 and never decreases (then ptr[n] is the number of entries). */
@inline export function offsets(ptr: usize, n: i32): bool {
  if (n < 0 || !inside(ptr, <i64>n + 1) || load<i32>(ptr) != 0) return false;
  for (let i = 1; i <= n; i++) {
    if (load<i32>(ptr + (<usize>i << 2)) < load<i32>(ptr + (<usize>(i - 1) << 2))) return false;
  }
  return true;
}

/** idx[0..n) lies in memory and every entry is in [0, bound) (any bound if bound < 0). */
@inline export function indices(idx: usize, n: i32, bound: i32): bool {
  if (!inside(idx, n)) return false;
  for (let i = 0; i < n; i++) {
    const v = load<i32>(idx + (<usize>i << 2));
    if (v < 0 || (bound >= 0 && v >= bound)) return false;
  }
  return true;
}

/** 1 + the largest of idx[0..n), 0 if n = 0: how many rows (samples, ...) a list of indices reaches. */
@inline export function reach(idx: usize, n: i32): i64 {
  let top: i64 = 0;
  for (let i = 0; i < n; i++) top = max(top, <i64>load<i32>(idx + (<usize>i << 2)) + 1);
  return top;
}
