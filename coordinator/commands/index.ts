/**
 * Every kip command as one line: its name, the term and summary `kip --help` lists, and the
 * module that registers it. coordinator/cli.ts imports only the module of the command being run
 * (none for `kip --help` or an unknown command), so the top-level help never loads what the
 * commands use (client-node, grpc, SQLite). test/unit/cli-commands.test.ts checks that each
 * module registers exactly the name, term and summary written here.
 */
import type { RegisterCommand } from './common.ts';

export interface CommandEntry {
  readonly name: string;
  /** What `kip --help` shows on the left: the name, ` [options]` and the arguments. */
  readonly term: string;
  readonly summary: string;
  readonly load: () => Promise<RegisterCommand>;
}

/** One entry per line (keep it so: parallel branches add lines here). */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'hash', term: 'hash [args...]', summary: 'kubelet container hashes, and the restarts a version step would cause', load: async () => (await import('./hash.ts')).registerHash },
  { name: 'plan', term: 'plan [options]', summary: 'print the upgrade path, both kubelet plans and the per-step checklist; changes nothing', load: async () => (await import('./plan.ts')).registerPlan },
  { name: 'preflight', term: 'preflight [options]', summary: 'cluster and agent checks before an upgrade, each with why and the fix', load: async () => (await import('./preflight.ts')).registerPreflight },
  { name: 'stage', term: 'stage [options]', summary: 'stream the kubelet binaries each node needs to its agent (sha256 verified, skips what is staged)', load: async () => (await import('./stage.ts')).registerStage },
  { name: 'upgrade', term: 'upgrade [options]', summary: 'upgrade the kubelets to VERSION: canaries first, a sliding window, journaled and resumable', load: async () => (await import('./upgrade.ts')).registerUpgrade },
  { name: 'resume', term: 'resume [options]', summary: 'continue the paused or interrupted run (finished nodes are not redone)', load: async () => (await import('./resume.ts')).registerResume },
  { name: 'rollback', term: 'rollback [options]', summary: 'roll back the nodes of the current step through their agents (the control plane is not downgraded)', load: async () => (await import('./rollback.ts')).registerRollback },
  { name: 'status', term: 'status [options]', summary: 'the run: phase, each node\'s state and timings, gate events; with --live what every agent sees now', load: async () => (await import('./status.ts')).registerStatus },
  { name: 'unlock', term: 'unlock [options]', summary: 'remove the cluster\'s upgrade lock (needs --force)', load: async () => (await import('./unlock.ts')).registerUnlock },
  { name: 'pki', term: 'pki [args...]', summary: 'the CA and certificates of agents, coordinators and viewers', load: async () => (await import('./pki-register.ts')).registerPki },
  { name: 'report', term: 'report [options]', summary: 'the run as Markdown and a self-contained HTML page with a per-node timeline', load: async () => (await import('./report.ts')).registerReport },
  { name: 'heal', term: 'heal [options]', summary: 'restart a node\'s kubelet stuck on broken apiserver connections, through its agent (containers keep running)', load: async () => (await import('./heal.ts')).registerHeal },
  { name: 'finalize', term: 'finalize [options]', summary: 'restart the kubelet of every node whose skip file is gone, one at a time, so it is back to upstream behaviour', load: async () => (await import('./finalize.ts')).registerFinalize },
  { name: 'ping', term: 'ping [options] <address>', summary: 'wait until one agent answers GetNode over mutual TLS, and show it', load: async () => (await import('./ping.ts')).registerPing },
  { name: 'inventory', term: 'inventory [options]', summary: 'print kip\'s agent inventory from an Ansible inventory (INI or YAML)', load: async () => (await import('./inventory.ts')).registerInventory },
];
