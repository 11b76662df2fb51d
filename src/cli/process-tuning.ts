/**
 * How a node's process is best started: settings that must be in place before the process runs
 * (glibc reads its tunables at startup), so the code cannot apply them itself. The Dockerfile,
 * `npm start` and every node the tests and benchmarks start use these values; a test
 * (deploy-manifests) keeps the Dockerfile and package.json in step with them.
 */

/**
 * glibc malloc: buffers of 128 KiB and more are mapped and unmapped one by one instead of coming
 * from the heap, where glibc kept 60-120 MB of freed block buffers under 200 clients
 * (bench-load's peak RSS, issue 14; docs/operations.md, "Memory"). Setting the threshold also
 * stops glibc raising it on its own after the first large free, which is what let large buffers
 * into the heap. The heap keeps up to 4 MiB free at its top, so that the 64 KiB socket buffers
 * of libp2p streams are not handed back to the kernel after every read (docs/p2p-throughput.md).
 */
export const mallocTunables = 'glibc.malloc.mmap_threshold=131072:glibc.malloc.trim_threshold=4194304'

/** The environment a node's process starts with: the caller's, with the tunables unless it set its own. */
export function tunedEnvironment (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, GLIBC_TUNABLES: env.GLIBC_TUNABLES ?? mallocTunables }
}
