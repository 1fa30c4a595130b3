/**
 * Verification of a static pod after its manifest changed: the kubelet runs a container of the
 * pod with the manifest's image (as the container runtime reports it), and the component's health
 * endpoint answers `ok`, stable for `stableMs` on the same container. Time from the Clock port.
 */
import { KubeLabel } from '../runtime/index.ts';
import { parseStaticPodManifest } from '../components/index.ts';
import { StepFailedError } from './errors.ts';
import { locate, type StepContext } from './steps/context.ts';
import type { Verified } from './verify.ts';

export const RUNTIME_UNAVAILABLE = 'RUNTIME_UNAVAILABLE';

export async function verifyStaticPod(ctx: StepContext, expect: string, timeoutMs: number, code: string, sinceMs: number): Promise<Verified> {
  const c = ctx.component;
  if (c.kind !== 'static-pod') throw new Error('not a static pod');
  const runtime = ctx.deps.runtime;
  if (!runtime) throw new StepFailedError(RUNTIME_UNAVAILABLE, `the agent has no container runtime connection: it cannot see the kubelet run ${c.name}`);
  const where = await locate(ctx, c.manifest);
  const text = await ctx.deps.fs.readText(ctx.host(where));
  const image = text === undefined ? '' : parseStaticPodManifest(text, where, c.name).image;
  if (!image.endsWith(`:${expect}`)) throw new StepFailedError(code, `${where} names image ${image || '(none)'}, not the ${expect} image`);
  const clock = ctx.deps.clock;
  const deadline = clock.now() + timeoutMs;
  const sinceNs = BigInt(Math.max(0, sinceMs - 1_000)) * 1_000_000n;
  let why = 'not probed';
  let firstHealthyAt = 0;
  let id = '';
  let since: number | undefined;
  for (;;) {
    const cs = await runtime.listContainers({ labelSelector: { [KubeLabel.containerName]: c.container } });
    const mine = cs.filter((x) => x.labels[KubeLabel.podName] === `${c.podName}-${c.nodeName}`);
    const hit = mine.find((x) => x.state === 'running' && x.image === image && x.createdAtNs >= sinceNs);
    const now = clock.now();
    if (!hit) {
      since = undefined;
      why = mine.length ? `the pod's containers: ${mine.map((x) => `${x.id.slice(0, 12)} ${x.state} ${x.image}`).join('; ')}` : `no container of ${c.podName}-${c.nodeName} yet`;
    } else {
      const h = await ctx.deps.health.healthz(c.healthzUrl, Math.max(500, Math.min(2_000, ctx.pollMs * 4)), c.insecureSkipVerify);
      if (!h.ok) {
        since = undefined;
        why = `container ${hit.id.slice(0, 12)} runs ${image}; ${c.healthzUrl}: ${h.detail}`;
      } else {
        if (firstHealthyAt === 0) firstHealthyAt = now;
        if (since === undefined || hit.id !== id) {
          since = now;
          id = hit.id;
        }
        if (now - since >= ctx.stableMs) return { note: `container ${id.slice(0, 12)} runs ${image}`, stableForMs: now - since, mainPid: 0, firstHealthyAtUnixMs: firstHealthyAt };
        why = `healthy for only ${now - since} ms`;
      }
    }
    if (now >= deadline) throw new StepFailedError(code, `the ${expect} ${c.name} did not run stable and healthy within ${timeoutMs} ms: ${why}`, { lastProblem: why });
    await clock.sleep(ctx.pollMs);
  }
}
