/**
 * An Ansible inventory (the one scripts/ansible/roles/kip_agent installs agents from) read as
 * kip's agent inventory, so hosts are listed once. Both of Ansible's static forms:
 *
 *   INI:  [workers]                                YAML: all:
 *         worker-1 ansible_host=10.0.0.11                  children:
 *         worker-2 ansible_host=10.0.0.12 kip_agent_port=7444   workers:
 *         [workers:vars] / [group:children]                       hosts: {worker-1: {ansible_host: 10.0.0.11}}
 *
 * Per host, variables merge as Ansible merges them (all < parent groups < child groups < host;
 * docs.ansible.com "How variables are merged"), and the agent is at kip_agent_address (else
 * ansible_host) : kip_agent_port (else the default port), exactly as the role computes them.
 * Numeric host ranges (worker[01:03]) expand as Ansible expands them. kip's groups
 * control_plane, etcd and workers are carried along as each agent's `groups`.
 */
import { parse as parseYaml } from 'yaml';
import { DEFAULT_AGENT_PORT, InventoryError } from './inventory.ts';
import type { AgentEndpoint } from './port.ts';

export const KIP_GROUPS = ['control_plane', 'etcd', 'workers'] as const;

type Vars = Record<string, unknown>;

interface Group {
  readonly hosts: Map<string, Vars>;
  vars: Vars;
  readonly children: Set<string>;
}

export interface AnsibleAgent extends AgentEndpoint {
  /** The kip groups (control_plane, etcd, workers) the host is in, directly or through children. */
  readonly groups: readonly string[];
}

class Inv {
  readonly groups = new Map<string, Group>();

  group(name: string): Group {
    let g = this.groups.get(name);
    if (!g) {
      g = { hosts: new Map(), vars: {}, children: new Set() };
      this.groups.set(name, g);
    }
    return g;
  }
}

/** worker[01:03] -> worker01, worker02, worker03 (Ansible keeps the leading zeros); others as they are. */
export function expandHostPattern(name: string, file: string): string[] {
  const m = /^(.*)\[(\d+):(\d+)\](.*)$/.exec(name);
  if (!m) {
    if (/[[\]]/.test(name)) throw new InventoryError('INVENTORY_INVALID', `--from-ansible ${file}: host pattern ${name}: only numeric ranges like worker[01:03] are supported; list the hosts one by one`, { file, host: name });
    return [name];
  }
  const [, pre = '', a = '', b = '', post = ''] = m;
  const [from, to] = [Number(a), Number(b)];
  if (to < from || to - from > 10_000) throw new InventoryError('INVENTORY_INVALID', `--from-ansible ${file}: host range ${name} is empty or too large`, { file, host: name });
  const width = a.startsWith('0') ? a.length : 0;
  return Array.from({ length: to - from + 1 }, (_, i) => `${pre}${String(from + i).padStart(width, '0')}${post}`);
}

/** Splits `key=value key2="a b"` the way Ansible's INI parser (shlex) does for the common cases. */
function iniVars(tokens: readonly string[], file: string, line: number): Vars {
  const out: Vars = {};
  for (const t of tokens) {
    const eq = t.indexOf('=');
    if (eq <= 0) throw new InventoryError('INVENTORY_UNPARSABLE', `--from-ansible ${file}:${line}: expected key=value, not ${JSON.stringify(t)}`, { file, line });
    out[t.slice(0, eq)] = iniValue(t.slice(eq + 1));
  }
  return out;
}

function iniValue(raw: string): unknown {
  if (/^-?\d+$/.test(raw)) return Number(raw);
  if (raw === 'true' || raw === 'True') return true;
  if (raw === 'false' || raw === 'False') return false;
  return raw;
}

function shlex(text: string): string[] {
  const out: string[] = [];
  const re = /(?:[^\s"']+|"[^"]*"|'[^']*')+/g;
  for (const m of text.matchAll(re)) out.push(m[0].replace(/"([^"]*)"|'([^']*)'/g, (_, d: string | undefined, s: string | undefined) => d ?? s ?? ''));
  return out;
}

function parseIni(text: string, file: string): Inv {
  const inv = new Inv();
  let section = { name: 'ungrouped', kind: 'hosts' as 'hosts' | 'vars' | 'children' };
  text.split('\n').forEach((rawLine, i) => {
    const line = rawLine.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;
    const head = /^\[([^\]:]+)(?::(vars|children))?\]$/.exec(line);
    if (head) {
      section = { name: head[1] ?? '', kind: (head[2] as 'vars' | 'children' | undefined) ?? 'hosts' };
      inv.group(section.name);
      return;
    }
    if (line.startsWith('[')) throw new InventoryError('INVENTORY_UNPARSABLE', `--from-ansible ${file}:${i + 1}: unknown section header ${line}`, { file, line: i + 1 });
    const g = inv.group(section.name);
    if (section.kind === 'vars') {
      const eq = line.indexOf('=');
      if (eq <= 0) throw new InventoryError('INVENTORY_UNPARSABLE', `--from-ansible ${file}:${i + 1}: [${section.name}:vars] expects key=value`, { file, line: i + 1 });
      g.vars[line.slice(0, eq).trim()] = iniValue(line.slice(eq + 1).trim().replace(/^"(.*)"$|^'(.*)'$/, '$1$2'));
    } else if (section.kind === 'children') {
      g.children.add(line);
      inv.group(line);
    } else {
      const [name = '', ...rest] = shlex(line);
      const v = iniVars(rest, file, i + 1);
      for (const h of expandHostPattern(name, file)) g.hosts.set(h, { ...(g.hosts.get(h) ?? {}), ...v });
    }
  });
  return inv;
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseYamlInventory(doc: Record<string, unknown>, file: string): Inv {
  const inv = new Inv();
  const walk = (name: string, body: unknown, where: string): void => {
    const g = inv.group(name);
    if (body === null || body === undefined) return;
    if (!isMap(body)) throw new InventoryError('INVENTORY_INVALID', `--from-ansible ${file}: ${where} must be a mapping (hosts, vars, children)`, { file, group: name });
    const { hosts, vars, children } = body;
    if (hosts !== undefined && hosts !== null) {
      if (!isMap(hosts)) throw new InventoryError('INVENTORY_INVALID', `--from-ansible ${file}: ${where}.hosts must be a mapping of host names`, { file, group: name });
      for (const [h, hv] of Object.entries(hosts)) {
        if (hv !== null && hv !== undefined && !isMap(hv)) throw new InventoryError('INVENTORY_INVALID', `--from-ansible ${file}: ${where}.hosts.${h} must be a mapping of variables`, { file, host: h });
        for (const x of expandHostPattern(h, file)) g.hosts.set(x, { ...(g.hosts.get(x) ?? {}), ...(hv ?? {}) });
      }
    }
    if (vars !== undefined && vars !== null) {
      if (!isMap(vars)) throw new InventoryError('INVENTORY_INVALID', `--from-ansible ${file}: ${where}.vars must be a mapping`, { file, group: name });
      g.vars = { ...g.vars, ...vars };
    }
    if (children !== undefined && children !== null) {
      if (!isMap(children)) throw new InventoryError('INVENTORY_INVALID', `--from-ansible ${file}: ${where}.children must be a mapping of groups`, { file, group: name });
      for (const [c, cb] of Object.entries(children)) {
        g.children.add(c);
        walk(c, cb, `${where}.children.${c}`);
      }
    }
  };
  for (const [name, body] of Object.entries(doc)) walk(name, body, name);
  return inv;
}

/** Group depth from `all` (all = 0), for Ansible's merge order: shallower groups first. */
function depths(inv: Inv): Map<string, number> {
  const d = new Map<string, number>();
  const childOf = new Set([...inv.groups.values()].flatMap((g) => [...g.children]));
  const roots = [...inv.groups.keys()].filter((g) => !childOf.has(g));
  const visit = (g: string, depth: number, seen: Set<string>): void => {
    if (seen.has(g)) return;
    if ((d.get(g) ?? -1) < depth) d.set(g, depth);
    for (const c of inv.groups.get(g)?.children ?? []) visit(c, depth + 1, new Set([...seen, g]));
  };
  for (const r of roots) visit(r, r === 'all' ? 0 : 1, new Set());
  return d;
}

/** Every group a host is in, through children (a host in workers is in all of workers' parents). */
function groupsOf(inv: Inv, host: string): string[] {
  const direct = [...inv.groups.entries()].filter(([, g]) => g.hosts.has(host)).map(([n]) => n);
  const parents = new Map<string, string[]>();
  for (const [n, g] of inv.groups) for (const c of g.children) parents.set(c, [...(parents.get(c) ?? []), n]);
  const out = new Set<string>(['all']);
  const up = (g: string): void => {
    if (out.has(g)) return;
    out.add(g);
    for (const p of parents.get(g) ?? []) up(p);
  };
  for (const g of direct) up(g);
  return [...out];
}

export function parseAnsibleInventory(text: string, file: string, defaultPort = DEFAULT_AGENT_PORT): AnsibleAgent[] {
  let inv: Inv;
  // Ansible tries its INI parser on files whose first real line is a [section] header; YAML otherwise.
  const first = text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#') && !l.startsWith(';')) ?? '';
  if (first.startsWith('[')) {
    inv = parseIni(text, file);
  } else {
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (cause) {
      throw new InventoryError('INVENTORY_UNPARSABLE', `--from-ansible ${file} is neither an INI nor a YAML inventory: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`, { file }, { cause });
    }
    if (doc === null || doc === undefined) return [];
    if (!isMap(doc)) {
      // A plain host list in INI form without sections ("host1 ansible_host=..."), the ungrouped case.
      inv = parseIni(text, file);
    } else {
      inv = parseYamlInventory(doc, file);
    }
  }
  const depth = depths(inv);
  const hosts = [...new Set([...inv.groups.values()].flatMap((g) => [...g.hosts.keys()]))];
  const agents: AnsibleAgent[] = [];
  const missing: string[] = [];
  for (const host of hosts) {
    const groups = groupsOf(inv, host).sort((a, b) => (depth.get(a) ?? 1) - (depth.get(b) ?? 1) || a.localeCompare(b));
    let vars: Vars = {};
    for (const g of groups) vars = { ...vars, ...(inv.groups.get(g)?.vars ?? {}) };
    for (const g of groups) vars = { ...vars, ...(inv.groups.get(g)?.hosts.get(host) ?? {}) };
    if (vars.kip_agent_state === 'absent') continue;
    const address = vars.kip_agent_address ?? vars.ansible_host;
    if (typeof address !== 'string' || address.trim() === '') {
      missing.push(host);
      continue;
    }
    const port = vars.kip_agent_port ?? defaultPort;
    const p = typeof port === 'number' ? port : Number(port);
    if (!Number.isInteger(p) || p < 1 || p > 65_535) {
      throw new InventoryError('INVENTORY_INVALID', `--from-ansible ${file}: host ${host}: kip_agent_port ${JSON.stringify(port)} is not a port (1-65535)`, { file, host });
    }
    const a = address.trim();
    agents.push({ node: host, address: a.includes(':') ? `[${a}]:${p}` : `${a}:${p}`, source: 'inventory', groups: KIP_GROUPS.filter((g) => groups.includes(g)) });
  }
  if (missing.length > 0) {
    throw new InventoryError('INVENTORY_NO_ADDRESS', `--from-ansible ${file}: host${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ha${missing.length > 1 ? 've' : 's'} no address: set ansible_host (or kip_agent_address) to the IP the coordinator dials`, { file, hosts: missing });
  }
  return agents.sort((x, y) => x.node.localeCompare(y.node));
}
