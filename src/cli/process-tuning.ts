/**
 * How a node's process is best started: settings that must be in place before the process runs
 * (glibc reads its tunables at startup, V8 sizes its heap at startup), so the code cannot apply
 * them itself: two environment variables, and a flag on node's command line. The Dockerfile,
 * `npm start` and every node the tests and benchmarks start use these values; a test
 * (deploy-manifests) keeps the Dockerfile and package.json in step.
 *
 * Measured with bench-load (200 clients, 10,000 requests; peak RSS, median of 3, 2-core machine,
 * load average 0.5-2.5): 271-289 MB started bare, 251 MB with the malloc tunables alone, 234 MB
 * with both (229 MB with 2 MiB semi-spaces, which cost 14 % more CPU moving 1 GiB between two
 * nodes; 4 MiB cost 2 %). The cost: a plain data connection, which read into fresh 4 MiB slabs,
 * mapped each one (bench-p2p node-plain 146 → ~100 MB/s; the encrypted default did not lose);
 * its slabs now come from a pool (data-connection/slab-pool.ts).
 */

/**
 * glibc malloc: buffers of 128 KiB and more are mapped and unmapped one by one instead of coming
 * from the heap, where glibc kept 60-120 MB of freed block buffers under 200 clients (issue 14;
 * docs/operations.md, "Memory"). Setting the threshold also stops glibc raising it on its own
 * after the first large free, which is what let large buffers into the heap.
 */
export const mallocTunables = 'glibc.malloc.mmap_threshold=131072'

/**
 * V8: young-generation semi-spaces of at most 4 MiB instead of 16. Under many clients the young
 * generation grew to ~48 MB of short-lived request garbage; smaller, it is collected sooner.
 */
export const nodeOptions = '--max-semi-space-size=4'

/**
 * V8, on node's command line (NODE_OPTIONS refuses it): an old generation that is not collected
 * before it holds 64 MiB. V8 counts external memory allocated since the last full collection
 * (buffers, young garbage included) against the old generation's limit, and it sets that limit
 * at 1.2 times what survived when collections look cheap. A node's heap is small (~26 MB), so the
 * sealed record buffers that a data connection makes between two young collections (20-30 MB at
 * 200 MB/s) used up its ~12 MB of slack, and such a seed ran a full collection every 60-100 ms:
 * 40-70 per GiB, 2 more CPU seconds per GiB and a fifth less throughput (bench-p2p
 * node-encrypted, seed 4.2-5.4 → 2.6-3.3 CPU s/GiB). With the floor: 0-3 per GiB. Whether a
 * run fell into it depended on the heap's size when the transfer began, so slightly larger
 * builds (source maps loaded, unbundled modules) did not show it.
 */
export const nodeFlags = ['--initial-old-space-size=64'] as const

/** The environment a node's process starts with: the caller's, with these settings where it has none of its own. */
export function tunedEnvironment (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, GLIBC_TUNABLES: env.GLIBC_TUNABLES ?? mallocTunables, NODE_OPTIONS: env.NODE_OPTIONS ?? nodeOptions }
}
