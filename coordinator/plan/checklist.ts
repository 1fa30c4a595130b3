/**
 * What changes under the user per step, from lib/knowledge (each fact carries its source): API
 * versions no longer served (with the --runtime-config that keeps them served while that is
 * possible), feature-gate defaults that change behaviour, kubelet flags and gates removed, and
 * container-hash algorithm changes.
 */
import { apiRemovalsBetween, formatApiCitation, runtimeConfigAt } from '../../lib/knowledge/apis/index.ts';
import { formatCitation, removedFeatureGatesBetween, removedFlagsBetween } from '../../lib/knowledge/flags/kubelet.ts';
import { flagChangesBetween, formatCitation as formatFlagCitation, type ControlComponent, type FlagChange } from '../../lib/knowledge/flags/index.ts';
import { gateChangesBetween } from '../../lib/knowledge/gates/index.ts';
import { algorithmFor } from '../../lib/knowledge/hash/versions.ts';
import { parseMinor } from '../../lib/knowledge/version.ts';
import type { PlanStep } from './path.ts';

export type ChecklistKind = 'api-removed' | 'feature-gate' | 'kubelet-flag-removed' | 'kubelet-gate-removed' | 'component-flag' | 'hash-algorithm';

export interface ChecklistItem {
  readonly kind: ChecklistKind;
  readonly what: string;
  /** What the operator does about it (empty when nothing). */
  readonly action: string;
  readonly source: string;
}

const CONTROL_PLANE_COMPONENTS: readonly ControlComponent[] = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];

function flagAction(f: FlagChange): string {
  switch (f.migration.kind) {
    case 'drop': return 'the agent drops it (it had no effect)';
    case 'rename': return `the agent renames it to ${f.migration.to}`;
    case 'drop-if': return `the agent drops it when set to ${f.migration.safeValues.map((v) => (v === '' ? '""' : v)).join(' or ')}; otherwise ${f.migration.hint}`;
    case 'refuse': return `the agent refuses the step while it is set (override: --allow-dropped-flag ${f.flag}): ${f.migration.hint}`;
    case 'deprecated': return `still accepted; ${f.migration.hint}`;
  }
}

function componentFlagItems(component: ControlComponent, from: string, to: string): ChecklistItem[] {
  return flagChangesBetween(component, from, to).map((f) => ({
    kind: 'component-flag',
    what: `${component} ${f.since} ${f.migration.kind === 'deprecated' ? 'deprecates' : 'no longer accepts'} ${f.flag}${f.removedValues ? `=${f.removedValues.join('|')}` : ''}: ${f.summary}`,
    action: flagAction(f),
    source: formatFlagCitation(f.citation),
  }));
}

// Path entries may be placeholders (v1.13.x: no patch release known); parseMinor takes v1.13.
const minorNumber = (v: string): number => parseMinor(v.replace(/\.x$/, ''), 'plan version').minor;

export function checklistFor(step: PlanStep): ChecklistItem[] {
  const items: ChecklistItem[] = [];
  if (step.controlPlane) {
    const from = minorNumber(step.controlPlane.from);
    const to = minorNumber(step.controlPlane.to);
    const keep = runtimeConfigAt(to);
    for (const r of apiRemovalsBetween(from, to)) {
      items.push({
        kind: 'api-removed',
        what: `kube-apiserver 1.${to} no longer serves ${r.resources.includes('*') ? 'any resource' : r.resources.join(', ')} under ${r.groupVersion}`,
        action: `move manifests and clients to ${r.replacement}${r.runtimeConfig && keep.includes(r.runtimeConfig) ? `; to keep serving it for now: --runtime-config=${r.runtimeConfig}${r.removedIn ? ` (impossible from ${r.removedIn})` : ''}` : ''}`,
        source: formatApiCitation(r),
      });
    }
    for (const c of CONTROL_PLANE_COMPONENTS) items.push(...componentFlagItems(c, `1.${from}`, `1.${to}`));
    for (const g of gateChangesBetween(from, to)) {
      items.push({ kind: 'feature-gate', what: `${g.component} 1.${g.since}: ${g.gate} defaults to ${g.to}: ${g.effect}`, action: g.gate === 'TaintBasedEvictions' ? 'kip touches pods without not-ready/unreachable tolerations so DefaultTolerationSeconds adds them before the controller-manager starts' : '', source: g.source });
    }
  }
  for (const hop of step.kubelets) {
    const from = `1.${minorNumber(hop.from)}`;
    const to = `1.${minorNumber(hop.to)}`;
    for (const f of removedFlagsBetween(from, to)) {
      items.push({ kind: 'kubelet-flag-removed', what: `kubelet ${f.removedIn} no longer accepts ${f.flag}${f.removedValues ? `=${f.removedValues.join('|')}` : ''}: ${f.summary}`, action: f.migration.kind === 'drop' ? 'the agent drops it' : f.migration.kind === 'rename' ? `the agent renames it to ${f.migration.to}` : 'hint' in f.migration ? f.migration.hint : '', source: formatCitation(f.citation) });
    }
    for (const g of removedFeatureGatesBetween(from, to)) {
      items.push({ kind: 'kubelet-gate-removed', what: `kubelet ${g.removedIn} no longer accepts --feature-gates ${g.gate}: ${g.summary}`, action: `the agent drops it when set to ${g.safeValue}`, source: formatCitation(g.citation) });
    }
    // kube-proxy goes with the node's kubelet.
    items.push(...componentFlagItems('kube-proxy', from, to));
    const a = algorithmFor(from);
    const b = algorithmFor(to);
    if (a !== b) {
      items.push({
        kind: 'hash-algorithm',
        what: `the kubelet's container hash changes algorithm from ${from} (${a}) to ${to} (${b}): every container's hash changes`,
        action: 'a patched kubelet with the skip file keeps them running; an unpatched one restarts every container',
        source: b === 'spew-json' ? 'kubernetes/kubernetes#57741 (first released in v1.16.0)' : 'kubernetes/kubernetes#124220 (released in v1.31.0)',
      });
    }
  }
  return items;
}
