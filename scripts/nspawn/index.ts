/** The systemd-nspawn node harness: real systemd + journald per node, for tests and the lab. */
export { ensureBaseImage, defaultCacheDir, baseImageKey, DEFAULT_BASE_PACKAGES, type BaseImage, type BaseImageOptions } from './base-image.ts';
export { bootNode, mountEntries, mountPoints, parseMountInfo, NODE_PATH, type BindMount, type BootNodeOptions, type MountEntry, type NspawnNode } from './node.ts';
export { reapOrphanedNodes, type ReapResult } from './reap.ts';
export { NspawnError } from './errors.ts';
export type { StreamExit, StreamProcess, StreamSpawn, StreamSpawnOptions } from '../../agent/systemd/stream.ts';
