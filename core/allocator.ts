/**
 * A hint to the C allocator under Node on Linux, given once when seqgrad loads.
 *
 * Every kernel output is a fresh typed array. Node takes typed-array memory from the C library's malloc, and
 * glibc's malloc has two thresholds:
 * - blocks of at least the mmap threshold (128 KiB at start) come straight from the kernel by mmap;
 * - once more than the trim threshold (twice the mmap threshold) lies free at the top of the heap, it is given
 *   back to the kernel.
 * Either way, the next array of that size lands on pages fresh from the kernel, and the first write to each
 * 4 KiB page is a page fault. A training step allocates and drops many arrays of 0.25-16 MiB, and the garbage
 * collector frees them in batches. So under the defaults, a process can fault on most of its output pages,
 * step after step. Whether it does depends on the process's allocation history; bench/ shows it in its
 * faults/step column.
 *
 * glibc raises both thresholds by itself when a block it had mmapped is freed: the mmap threshold becomes that
 * block's size, and the trim threshold twice that, up to a largest block of 32 MiB on 64-bit systems. Setting
 * `MALLOC_MMAP_THRESHOLD_` or `MALLOC_TRIM_THRESHOLD_` in the environment turns this rule off. seqgrad
 * therefore allocates one 31 MiB ArrayBuffer at load and drops it without touching it, so no page of it is
 * ever made resident. When the next garbage collection frees it, glibc's thresholds become 31 and 62 MiB:
 * every tensor under 31 MiB is then served from the heap, which keeps up to 62 MiB of freed memory for reuse.
 *
 * The cost is that up to 62 MiB of freed memory stays with the process instead of going back to the system.
 * Elsewhere (browsers, macOS, Windows, other C libraries) it does nothing. SEQGRAD_MALLOC_HINT=0 turns it off.
 */

/** Bytes of the block dropped at load: under glibc's 32 MiB ceiling for a dynamic threshold, with room for malloc's header. */
export const MALLOC_HINT_BYTES = 31 * 1024 * 1024;

let given = false;
let hinted = false;

/** Gives the hint where it applies (Node on Linux, unless SEQGRAD_MALLOC_HINT=0); later calls do nothing. */
export function hintAllocator(): void {
  if (given) return;
  given = true;
  const p = typeof process === "object" && process !== null ? process : undefined;
  if (p?.platform !== "linux" || p.env?.["SEQGRAD_MALLOC_HINT"] === "0") return;
  try {
    void new ArrayBuffer(MALLOC_HINT_BYTES); // never written: malloc's mmapped block stays without resident pages
    hinted = true;
  } catch {
    // no room for 31 MiB of address space: then there is no hint to give
  }
}

/** Whether seqgrad gave glibc's malloc its threshold hint in this process (see core/allocator.ts). */
export function allocatorHinted(): boolean {
  return hinted;
}
