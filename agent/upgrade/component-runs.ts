/**
 * Which component a call is about, as the run will act on it: the name (empty = kubelet), the
 * spec from discovery (agent/components, through the ComponentsPort), whether it is held, and
 * its current arguments. Bad input is refused here, before anything is claimed or changed.
 */
import { parseStaticPodManifest } from '../components/index.ts';
import { componentSpecFrom, type ComponentSpec } from './component.ts';
import type { UpgradeAgentConfig, UpgradeAgentDeps } from './config.ts';
import { PreconditionError } from './errors.ts';
import { stagedComponent } from './stage.ts';

export const COMPONENTS_DISABLED = 'COMPONENTS_DISABLED';

export interface ResolvedComponent {
  readonly spec: ComponentSpec;
  readonly args: readonly string[];
  readonly held: boolean;
  /** The version it runs now, as discovery read it ('' when unknown). */
  readonly version: string;
}

/** The spec of a component other than the kubelet; throws COMPONENT_UNKNOWN, COMPONENT_NOT_ON_NODE, MANIFEST_INVALID. */
export async function resolveComponent(name: string, deps: UpgradeAgentDeps, config: Pick<UpgradeAgentConfig, 'kubeletUnit' | 'nodeName'>, host: (p: string) => string): Promise<ResolvedComponent> {
  const n = stagedComponent(name);
  const port = deps.components;
  if (!port) throw new PreconditionError(COMPONENTS_DISABLED, `this agent was started without the component service: it upgrades only the kubelet, not ${n}`);
  const c = await port.resolve(n);
  const held = (await port.holdPhase(n)) !== undefined;
  let podName = n as string;
  let heldManifest = '';
  if (c.runtime.kind === 'static-pod') {
    heldManifest = port.heldManifestPath(c.runtime.manifest);
    const where = held ? heldManifest : c.runtime.manifest;
    const text = await deps.fs.readText(host(where));
    if (text !== undefined) podName = parseStaticPodManifest(text, where, n).podName;
  }
  return { spec: componentSpecFrom(c, { kubeletUnit: config.kubeletUnit, nodeName: config.nodeName, heldManifest, podName }), args: c.args, held, version: c.version };
}
