/**
 * The collaborators of the upgrade logic. Real adapters are wired in agent/main.ts (systemd and
 * journal from agent/systemd, binary inspection from agent/kubelet, files from ./fs.ts); unit tests
 * pass fakes. Paths handed to ports are host paths (already prefixed with the configured root).
 */

/** What the upgrade needs to know about the kubelet unit (from `systemctl show`). */
export interface UnitInfo {
  readonly activeState: string;
  readonly subState: string;
  readonly mainPid: number;
  /** ExecMainStartTimestamp in microseconds since the epoch; 0 when systemd has none. */
  readonly execMainStartUsec: number;
  readonly nRestarts: number;
  /** The unit file and its drop-ins (node paths). */
  readonly fragmentPath: string;
  readonly dropInPaths: readonly string[];
  /** EnvironmentFile= paths (node paths, without the optional leading '-'). */
  readonly environmentFiles: readonly string[];
  readonly privateTmp: boolean;
  /** The unit's mount-namespace options that can hide a path from its processes. */
  readonly mountOptions: MountOptions;
  /** argv of ExecStart (unexpanded: `$KUBELET_ARGS` stays as written). */
  readonly execStart: readonly string[];
  /** systemd's NeedDaemonReload: the unit file or a drop-in changed on disk since the last reload. */
  readonly needDaemonReload: boolean;
}

/** As `systemctl show` prints them (lists split on spaces, prefixes such as '-' kept). */
export interface MountOptions {
  /** TemporaryFileSystem=: `path[:options]` entries. */
  readonly temporaryFileSystem: readonly string[];
  readonly rootDirectory: string;
  readonly rootImage: string;
  /** InaccessiblePaths=. */
  readonly inaccessiblePaths: readonly string[];
  /** BindPaths= and BindReadOnlyPaths=: `[-]source:destination:options` entries. */
  readonly bindPaths: readonly string[];
  /** ProtectHome=: no, yes, read-only or tmpfs. */
  readonly protectHome: string;
}

export interface SystemdPort {
  unitInfo(unit: string): Promise<UnitInfo>;
  stop(unit: string): Promise<void>;
  start(unit: string): Promise<void>;
  daemonReload(): Promise<void>;
}

export interface JournalPort {
  /** The last `lines` messages of the unit, oldest first. */
  tail(unit: string, lines: number): Promise<string[]>;
}

export interface KubeletBinaryPort {
  /** Runs `<path> --version` and returns the version it prints (e.g. v1.11.10). */
  version(path: string): Promise<string>;
  /** True when the binary contains the skip-file path string (it carries the patch). */
  isPatched(path: string, skipFilePath: string): Promise<boolean>;
  /**
   * The program a binary says it is in its `--help` usage line (kube-apiserver, kubelet, ...),
   * undefined when it names none kip knows. Optional: without it only the version is checked.
   */
  program?(path: string): Promise<string | undefined>;
  /**
   * The same answer as `isPatched`, computed from the bytes as they arrive (staging feeds it the
   * upload while it hashes, instead of reading the file again). Optional: without it staging
   * calls `isPatched` on the written file.
   */
  patchScanner?(skipFilePath: string): PatchScanner;
}

export interface PatchScanner {
  push(chunk: Uint8Array): void;
  readonly patched: boolean;
}

export interface FileContent {
  readonly path: string;
  readonly content: string;
}

export interface FlagMigrationInput {
  readonly fromVersion: string;
  readonly toVersion: string;
  readonly execStart: readonly string[];
  /** The original content of every environment file the unit references (node paths). */
  readonly environmentFiles: readonly FileContent[];
  /** The original unit file and drop-ins. */
  readonly unitFiles: readonly FileContent[];
  readonly allowDroppedFlags: readonly string[];
  /** The staged target binary (host path), to learn the flags it accepts; '' when unknown. */
  readonly targetBinary: string;
}

export interface FlagMigrationPlan {
  /** New full content of each file that changes (node paths); files not listed stay as they are. */
  readonly edits: readonly FileContent[];
  /** Human-readable notes (which flag was dropped or renamed, and why). */
  readonly notes: readonly string[];
}

export interface FlagMigrationPort {
  /** Throws InvalidInputError (FLAG_MIGRATION_REFUSED) when a removed flag has no safe replacement. */
  plan(input: FlagMigrationInput): Promise<FlagMigrationPlan>;
}

export interface HealthPort {
  /** GET the component's health endpoint; ok when it answered 200 with body "ok". */
  healthz(url: string, timeoutMs: number, insecureSkipVerify?: boolean): Promise<{ ok: boolean; detail: string }>;
}

/**
 * The node's other components, for runs that are not the kubelet's: what runs here (discovery,
 * agent/components) and whether it is held (Hold). Optional: without it only the kubelet runs.
 */
export interface ComponentsPort {
  /** The component as the node runs it; throws COMPONENT_UNKNOWN / COMPONENT_NOT_ON_NODE / MANIFEST_INVALID. */
  resolve(name: string): Promise<import('../components/types.ts').Component>;
  /** The current hold of a component, if any ('holding', 'held', 'releasing'). */
  holdPhase(name: string): Promise<string | undefined>;
  /** Where Hold puts a static pod's manifest (node path). */
  heldManifestPath(manifest: string): string;
}

/** The container runtime's view, for verifying a static pod (agent/runtime). */
export type StaticPodRuntimePort = import('../runtime/types.ts').RuntimeReader;

export interface ProcPort {
  /** /proc/<pid>/exe and /proc/<pid>/cmdline, or undefined when the process is gone. */
  process(pid: number): Promise<{ exe: string; argv: string[] } | undefined>;
  /** Device and inode of `hostPath` as process `pid` sees it (/proc/<pid>/root<hostPath>); undefined when absent there. */
  statAs(pid: number, hostPath: string): Promise<{ dev: number; ino: number } | undefined>;
  /** Content of `hostPath` as process `pid` sees it; undefined when absent there. */
  readAs(pid: number, hostPath: string): Promise<string | undefined>;
}

export type { Clock } from '../../lib/clock.ts';

/** Fault injection for crash tests: called before and after each step acts. Production: off. */
export interface FaultHook {
  at(step: string, point: 'before' | 'after'): Promise<void>;
}

export const noFaults: FaultHook = { at: async () => {} };

/**
 * What runs on the node and what the API says should run there: the raw PodList of the pods
 * bound to this node, and the runtime's containers. Optional: without it the agent cannot
 * check or predict container hashes.
 */
export interface WorkloadPort {
  listNodePods(): Promise<import('../../lib/knowledge/hash/index.ts').JsonNode>;
  listContainers(): Promise<import('../runtime/types.ts').ContainerInfo[]>;
  /**
   * This node's Node object: its name and whether the API has it (false only on a 404; other
   * failures throw). A node name that matches no Node makes every pod list empty, which must never
   * read as "consistent".
   */
  readonly node?: { readonly name: string; exists(): Promise<boolean> };
}
