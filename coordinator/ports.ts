/**
 * The collaborators commands use, as ports: the cluster (lib/kube), the agents (coordinator/fleet),
 * the run store and the clock. coordinator/cli.ts wires the real ones; tests pass fakes.
 */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { Clock } from '../lib/clock.ts';
import type { Exec } from '../lib/exec.ts';
import type { JsonNode } from '../lib/knowledge/hash/index.ts';
import type { Logger } from '../lib/logger.ts';
import type { AgentEndpoint, AgentPort, AgentTls } from './fleet/port.ts';
import type { ClusterLock } from './lock/lock.ts';
import type { ListServed } from './plan/live-objects.ts';
import type { RunStore } from './store/store.ts';
import type { OpenedView } from './rollout/cluster-view.ts';

/** How to reach the cluster: a kubeconfig file and, optionally, one of its contexts. */
export interface KubeOptions {
  readonly kubeconfig: string;
  readonly context: string | undefined;
}

export interface ClusterApi {
  /** The API server URL: identifies the cluster in the run store. */
  readonly server: string;
  /** kube-apiserver's gitVersion (/version). */
  version(): Promise<string>;
  nodes(): Promise<V1Node[]>;
  pods(): Promise<V1Pod[]>;
  /** Every pod as the apiserver serves it, byte for byte (for the hash engine). */
  podTree(): Promise<JsonNode>;
  /** Merge-patches metadata annotations (null removes one). */
  annotateNode(name: string, annotations: Readonly<Record<string, string | null>>): Promise<void>;
  /** Merge-patches metadata labels. */
  labelNode(name: string, labels: Readonly<Record<string, string>>): Promise<void>;
  /** Merge-patches a pod's metadata annotations (an update: admission runs on it again). */
  annotatePod(namespace: string, name: string, annotations: Readonly<Record<string, string>>): Promise<void>;
  /**
   * Asks one kube-apiserver (at `url`, https://host:port; undefined: the kubeconfig's server) for
   * `healthPath` (/readyz, /healthz before 1.16) and /version, with the kubeconfig's credentials.
   * Rejects when it does not answer; `ready` is false when the health path answers non-200.
   */
  apiserverStatus(url: string | undefined, healthPath: string): Promise<{ ready: boolean; version: string }>;
  /** Records a core/v1 Event on a Node (namespace default, as the kubelet does), so `kubectl describe node` shows the run. */
  nodeEvent(node: string, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>;
  readonly lock: ClusterLock;
  /**
   * Objects of one resource as served now under one group/version (undefined when it is not
   * served). Absent on clusters that cannot list arbitrary resources: the plan then says so.
   */
  readonly listServed?: ListServed;
  /**
   * Every kube-apiserver's address as https://ip:port, from the Endpoints default/kubernetes each
   * apiserver reconciles its own advertise address into (coordinator/plan/ha-apiservers.ts).
   * Absent: only the kubeconfig's server is known.
   */
  readonly apiserverEndpoints?: () => Promise<string[]>;
  /**
   * Opens a list + watch cache of Nodes and Pods (coordinator/cluster-cache.ts) for the engine:
   * resolves once both are listed; the caller stops it. Absent, the engine lists every time.
   */
  openView?(): Promise<OpenedView>;
}

export interface CliPorts {
  cluster(options: KubeOptions): Promise<ClusterApi>;
  /** Reads the mTLS material (ca.crt, coordinator.crt, coordinator.key) from a directory. */
  agentTls(pkiDir: string): Promise<AgentTls>;
  agent(endpoint: AgentEndpoint, tls: AgentTls): AgentPort;
  openStore(stateDir: string): RunStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Who runs this coordinator (the lock's holder): host and pid. */
  readonly identity: string;
  /** How often the engine looks at the cluster (default 1 s). */
  readonly pollMs?: number;
  /** Runs the hooks (default lib/exec.ts execaExec). */
  readonly exec?: Exec;
}
