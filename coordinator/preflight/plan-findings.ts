/**
 * Preflight findings that depend on the target (`kip preflight --to`): the objects behind the API
 * versions the path stops serving (coordinator/plan/live-objects.ts), and the containers an
 * unpatched kubelet would restart per hop (the hash engine over the live pods), so the operator
 * sees before the run why the skip-file patch and the manifests matter.
 */
import { API_REMOVALS } from '../../lib/knowledge/apis/index.ts';
import type { JsonNode } from '../../lib/knowledge/hash/index.ts';
import { findRemovedApiObjects, removalsOnPath, type ListServed } from '../plan/live-objects.ts';
import type { VersionPlan } from '../plan/path.ts';
import { predictHopRestarts } from '../plan/restarts.ts';
import type { Finding } from './rules.ts';

export async function removedApiFindings(plan: VersionPlan, list: ListServed | undefined): Promise<Finding[]> {
  const removals = removalsOnPath(plan);
  if (removals.length === 0) return [];
  if (!list) return [{ severity: 'warning', check: 'removed-api-objects', object: 'cluster', why: 'the cluster client cannot list arbitrary resources, so objects in API versions the path stops serving were not checked', fix: 'list them by hand (kubectl get deployments.v1beta1.extensions -A ...)' }];
  const out: Finding[] = [];
  for (const f of await findRemovedApiObjects(removals, list)) {
    const removal = API_REMOVALS.find((r) => r.groupVersion === f.groupVersion && (r.resources.includes(f.resource) || r.resources.includes('*')));
    const keep = removal?.runtimeConfig ? `, or keep it served for now with kube-apiserver --runtime-config=${removal.runtimeConfig} (impossible from ${removal.removedIn ?? 'a later release'})` : '';
    for (const name of f.appliedWithRemoved) {
      out.push({
        severity: 'warning', check: 'removed-api-objects', object: `${f.resource} ${name}`,
        why: `last applied as ${f.groupVersion}, which kube-apiserver ${removal?.stopsServingIn ?? ''} no longer serves: the object survives, but the next kubectl apply of that manifest fails with 404`,
        fix: `move the manifest to ${removal?.replacement ?? 'the served version'}${keep}`,
      });
    }
  }
  return out;
}

export function predictedRestartFindings(plan: VersionPlan, pods: JsonNode): Finding[] {
  const out: Finding[] = [];
  for (const step of plan.plans['every-step'].steps) {
    predictHopRestarts(pods, step.kubelets).forEach((h) => {
      if (h.wouldRestart === 0) return;
      out.push({
        severity: 'info', check: 'predicted-restarts', object: `kubelets ${h.from} -> ${h.to}`,
        why: `an unpatched kubelet would restart ${h.wouldRestart} of ${h.containers} containers (their hash changes): only the skip-file patch keeps them running`,
        fix: 'stage patched kubelets (the agent\'s preflight fails an unpatched one unless --allow-unpatched)',
      });
    });
  }
  return out;
}
