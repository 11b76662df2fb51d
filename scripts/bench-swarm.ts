/**
 * Swarm benchmark in network namespaces: the parts live in scripts/bench-swarm/ (main.ts says
 * how to use it). This entry keeps `node dist/scripts/bench-swarm.js`.
 */
import './bench-swarm/main.js'
