/**
 * Server-side printing (meta.k8s.io Table), which kubectl asks for with
 * `Accept: application/json;as=Table;v=v1;g=meta.k8s.io, ...;v=v1beta1...`. Columns follow the
 * apiserver's printers for pods and nodes (NAME READY STATUS RESTARTS AGE; NAME STATUS ROLES AGE
 * VERSION); other resources get NAME and AGE. Table v1beta1 is served from v1.10 (beta), v1 from
 * v1.15 (CHANGELOG-1.15: "meta.k8s.io/v1 Table" promotion); the lab answers whichever the client
 * lists first.
 */
import type { ResourceDef } from './resources.ts';
import { isObject, str, type Json, type JsonObject } from './json.ts';

export type TableVersion = 'v1' | 'v1beta1';

export function wantsTable(accept: string | undefined): TableVersion | undefined {
  for (const part of (accept ?? '').split(',')) {
    const params = part.split(';').map((p) => p.trim());
    if (!params.includes('as=Table') || !params.includes('g=meta.k8s.io')) continue;
    if (params.includes('v=v1')) return 'v1';
    if (params.includes('v=v1beta1')) return 'v1beta1';
  }
  return undefined;
}

export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  return d < 365 * 2 ? `${d}d` : `${Math.floor(d / 365)}y`;
}

interface Column {
  readonly name: string;
  readonly type: string;
  readonly priority: number;
  readonly cell: (o: JsonObject) => Json;
}

function obj(v: Json | undefined): JsonObject {
  return isObject(v) ? v : {};
}

function list(v: Json | undefined): Json[] {
  return Array.isArray(v) ? v : [];
}

function podColumns(): Column[] {
  const statuses = (o: JsonObject): JsonObject[] => list(obj(o.status).containerStatuses).filter(isObject);
  return [
    { name: 'Ready', type: 'string', priority: 0, cell: (o) => `${statuses(o).filter((c) => c.ready === true).length}/${list(obj(o.spec).containers).length}` },
    {
      name: 'Status', type: 'string', priority: 0, cell: (o) => {
        if (str(obj(o.metadata).deletionTimestamp)) return 'Terminating';
        for (const c of statuses(o)) {
          const waiting = obj(obj(c.state).waiting);
          if (str(waiting.reason)) return str(waiting.reason) ?? '';
        }
        return str(obj(o.status).reason) ?? str(obj(o.status).phase) ?? 'Unknown';
      },
    },
    { name: 'Restarts', type: 'integer', priority: 0, cell: (o) => statuses(o).reduce((n, c) => n + (typeof c.restartCount === 'number' ? c.restartCount : 0), 0) },
    { name: 'Age', type: 'string', priority: 0, cell: () => '' },
    { name: 'IP', type: 'string', priority: 1, cell: (o) => str(obj(o.status).podIP) ?? '<none>' },
    { name: 'Node', type: 'string', priority: 1, cell: (o) => str(obj(o.spec).nodeName) ?? '<none>' },
  ];
}

function nodeColumns(): Column[] {
  return [
    {
      name: 'Status', type: 'string', priority: 0, cell: (o) => {
        const ready = list(obj(o.status).conditions).filter(isObject).find((c) => c.type === 'Ready');
        const s = ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown';
        return obj(o.spec).unschedulable === true ? `${s},SchedulingDisabled` : s;
      },
    },
    {
      name: 'Roles', type: 'string', priority: 0, cell: (o) => {
        const roles = Object.keys(obj(obj(o.metadata).labels)).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice('node-role.kubernetes.io/'.length));
        return roles.length ? roles.sort().join(',') : '<none>';
      },
    },
    { name: 'Age', type: 'string', priority: 0, cell: () => '' },
    { name: 'Version', type: 'string', priority: 0, cell: (o) => str(obj(obj(o.status).nodeInfo).kubeletVersion) ?? '' },
    {
      name: 'Internal-IP', type: 'string', priority: 1, cell: (o) =>
        str(list(obj(o.status).addresses).filter(isObject).find((a) => a.type === 'InternalIP')?.address) ?? '<none>',
    },
    { name: 'Container-Runtime', type: 'string', priority: 1, cell: (o) => str(obj(obj(o.status).nodeInfo).containerRuntimeVersion) ?? '' },
  ];
}

export function toTable(version: TableVersion, r: ResourceDef, items: readonly JsonObject[], resourceVersion: string, now: Date): JsonObject {
  const age0: Column = { name: 'Age', type: 'string', priority: 0, cell: () => '' };
  const columns: Column[] = r.plural === 'pods' ? podColumns() : r.plural === 'nodes' ? nodeColumns()
    : r.plural === 'namespaces' ? [{ name: 'Status', type: 'string', priority: 0, cell: (o) => str(obj(o.status).phase) ?? '' }, age0] : [age0];
  const apiVersion = `meta.k8s.io/${version}`;
  const age = (o: JsonObject): string => {
    const created = str(obj(o.metadata).creationTimestamp);
    return created ? humanDuration(now.getTime() - Date.parse(created)) : '<unknown>';
  };
  return {
    kind: 'Table',
    apiVersion,
    metadata: { resourceVersion },
    columnDefinitions: [
      { name: 'Name', type: 'string', format: 'name', description: 'Name of the object', priority: 0 },
      ...columns.map((c) => ({ name: c.name, type: c.type, format: '', description: c.name, priority: c.priority })),
    ],
    rows: items.map((o) => ({
      cells: [str(obj(o.metadata).name) ?? '', ...columns.map((c) => (c.name === 'Age' ? age(o) : c.cell(o)))],
      object: { kind: 'PartialObjectMetadata', apiVersion, metadata: obj(o.metadata) },
    })),
  };
}
