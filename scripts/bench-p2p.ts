/**
 * Peer-to-peer throughput benchmark: the runner and one file per transport live in
 * scripts/bench-p2p/ (main.ts says how to use it). This entry keeps `node dist/scripts/bench-p2p.js`.
 */
import './bench-p2p/main.js'
