/**
 * The lab apiserver: the subset of the Kubernetes REST API that kip and the lab use, over HTTPS with
 * client-certificate or bearer-token authentication, storing objects in etcd (see store.ts).
 * Everything authenticated is allowed (no authorization layer). See README.md beside this file.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { randomInt, randomUUID } from 'node:crypto';
import type { EtcdClient, EtcdWatch, EtcdWatchEvent } from '../etcd.ts';
import type { Logger } from '../../../lib/logger.ts';
import { KipError } from '../../../lib/errors.ts';
import { apiVersionOf, parseGitVersion, servedGroups, servedResources, type ResourceDef, type ServerVersion } from './resources.ts';
import { ApiError, errors, successStatus } from './status.ts';
import { child, clone, isObject, str, type Json, type JsonObject } from './json.ts';
import { ObjectStore } from './store.ts';
import { fieldsMatch, labelsMatch, parseFieldSelector, parseLabelSelector, type FieldRequirement, type LabelRequirement } from './selectors.ts';
import { applyPatch, patchTypeOf } from './patch.ts';
import { applyDefaultTolerationSeconds, defaultPod, defaultPodSpec } from './admission.ts';
import { wantsTable, toTable } from './table.ts';

export interface UserInfo {
  readonly user: string;
  readonly groups: readonly string[];
}

export interface ApiServerConfig {
  /** The version this server pretends to be, e.g. v1.10.13: decides which API groups it serves. */
  readonly gitVersion: string;
  readonly etcd: EtcdClient;
  /** PEM contents. clientCa verifies client certificates (CN = user, O = groups). */
  readonly tls: { readonly cert: string; readonly key: string; readonly clientCa: string };
  /** Bearer tokens (like --token-auth-file). */
  readonly tokens?: Readonly<Record<string, UserInfo>>;
  readonly admission?: { readonly defaultTolerationSeconds?: boolean };
  readonly host?: string;
  /** 0 or absent: a free port. */
  readonly port?: number;
  readonly logger: Logger;
  readonly clock?: () => Date;
  readonly newUid?: () => string;
  /** etcd key prefix, /registry unless given. */
  readonly prefix?: string;
  /** Namespaces created at start when absent. */
  readonly initialNamespaces?: readonly string[];
}

export interface ApiServerHandle {
  readonly url: string;
  readonly port: number;
  readonly version: ServerVersion;
  /**
   * Requests served since start, by Kubernetes verb and resource[/subresource], e.g. "list nodes",
   * "watch pods", "patch nodes/status" (the labels of kube-apiserver's apiserver_request_total).
   * What a test counts to say how much a client asks of the apiserver.
   */
  requests(): Readonly<Record<string, number>>;
  /** Closes the listener, ends open watches and connections. Idempotent. */
  stop(): Promise<void>;
}

export class ApiServerStartError extends KipError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LAB_APISERVER_START_FAILED', message, {}, options);
  }
}

const MAX_BODY = 8 * 1024 * 1024;
const GENERATE_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

interface Route {
  readonly resource: ResourceDef;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly subresource: string | undefined;
}

interface WatchFilter {
  readonly labels: LabelRequirement[];
  readonly fields: FieldRequirement[];
}

function send(res: ServerResponse, status: number, body: Json, contentType = 'application/json'): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function formatTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function labelsOf(obj: JsonObject): Record<string, string> {
  const meta = obj.metadata;
  const labels = isObject(meta) ? meta.labels : undefined;
  const out: Record<string, string> = {};
  if (isObject(labels)) for (const [k, v] of Object.entries(labels)) if (typeof v === 'string') out[k] = v;
  return out;
}

function metaOf(obj: JsonObject): JsonObject {
  return child(obj, 'metadata');
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > MAX_BODY) throw new ApiError(413, 'RequestEntityTooLarge', 'request entity too large');
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): Json {
  try {
    return JSON.parse(text) as Json;
  } catch {
    throw errors.badRequest('the request body is not valid JSON');
  }
}

export class LabApiServer {
  private readonly config: ApiServerConfig;
  private readonly version: ServerVersion;
  private readonly resources: ResourceDef[];
  private readonly store: ObjectStore;
  private readonly log: Logger;
  private readonly clock: () => Date;
  private readonly newUid: () => string;
  private readonly openWatches = new Set<() => void>();
  readonly requestCounts = new Map<string, number>();

  constructor(config: ApiServerConfig) {
    this.config = config;
    this.version = parseGitVersion(config.gitVersion);
    this.resources = servedResources(this.version.minor);
    this.store = new ObjectStore(config.etcd, config.prefix);
    this.log = config.logger;
    this.clock = config.clock ?? (() => new Date());
    this.newUid = config.newUid ?? randomUUID;
  }

  get serverVersion(): ServerVersion {
    return this.version;
  }

  /** Ends every open watch stream (used on stop). */
  endWatches(): void {
    for (const end of [...this.openWatches]) end();
  }

  async ensureNamespaces(names: readonly string[]): Promise<void> {
    const ns = this.findResource('', 'v1', 'namespaces');
    if (!ns) return;
    for (const name of names) {
      const existing = await this.store.get(ns, undefined, name);
      if (!existing) await this.store.create(ns, undefined, name, this.newObjectMeta(ns, undefined, { metadata: { name }, spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' } }, name));
    }
  }

  authenticate(req: IncomingMessage): UserInfo | undefined {
    const socket = req.socket as TLSSocket;
    if (socket.authorized) {
      const cert = socket.getPeerCertificate();
      const cn = cert.subject?.CN;
      if (typeof cn === 'string' && cn) {
        const o = cert.subject.O;
        const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
        return { user: cn, groups };
      }
    }
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ')) {
      const found = this.config.tokens?.[auth.slice(7).trim()];
      if (found) return found;
    }
    return undefined;
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://lab');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = (req.method ?? 'GET').toUpperCase();
    try {
      if (path === '/healthz' || path === '/livez' || path === '/readyz') {
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('ok');
        return;
      }
      const user = this.authenticate(req);
      if (!user) throw errors.unauthorized();
      if (path === '/version') return send(res, 200, this.versionInfo());
      if (path === '/api') return send(res, 200, { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: req.headers.host ?? '' }] });
      if (path === '/apis') return send(res, 200, this.groupList());
      if (path === '/api/v1') return send(res, 200, this.resourceList('', 'v1'));
      const groupMatch = /^\/apis\/([^/]+)$/.exec(path);
      if (groupMatch) {
        const g = servedGroups(this.version.minor).find((x) => x.name === groupMatch[1]);
        if (!g) throw errors.pathNotFound();
        return send(res, 200, this.groupInfo(g.name, g.versions, g.preferred));
      }
      const gvMatch = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
      if (gvMatch) {
        const list = this.resourceList(gvMatch[1] ?? '', gvMatch[2] ?? '');
        if ((list.resources as Json[]).length === 0) throw errors.pathNotFound();
        return send(res, 200, list);
      }
      const route = this.route(path);
      if (!route) throw errors.pathNotFound();
      const verb = verbOf(method, route.name !== undefined, url.searchParams);
      const what = `${verb} ${route.resource.plural}${route.subresource ? `/${route.subresource}` : ''}`;
      this.requestCounts.set(what, (this.requestCounts.get(what) ?? 0) + 1);
      await this.dispatch(method, route, url.searchParams, req, res, user);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof ApiError) {
        if (err.status >= 500) this.log.error({ err, method, path }, 'request failed');
        send(res, err.status, err.toStatus());
        return;
      }
      this.log.error({ err, method, path }, 'internal error');
      const message = err instanceof Error ? err.message : String(err);
      send(res, 500, new ApiError(500, 'InternalError', `Internal error occurred: ${message}`).toStatus());
    }
  }

  private versionInfo(): JsonObject {
    return {
      major: String(this.version.major),
      minor: String(this.version.minor),
      gitVersion: this.version.gitVersion,
      gitCommit: '0000000000000000000000000000000000000000',
      gitTreeState: 'clean',
      buildDate: '2026-01-01T00:00:00Z',
      goVersion: 'kip-lab',
      compiler: 'gc',
      platform: 'linux/amd64',
    };
  }

  private groupInfo(name: string, versions: readonly string[], preferred: string): JsonObject {
    return {
      kind: 'APIGroup',
      apiVersion: 'v1',
      name,
      versions: versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
      preferredVersion: { groupVersion: `${name}/${preferred}`, version: preferred },
    };
  }

  private groupList(): JsonObject {
    const groups = servedGroups(this.version.minor).map((g) => {
      const info = this.groupInfo(g.name, g.versions, g.preferred);
      delete info.kind;
      delete info.apiVersion;
      return info;
    });
    return { kind: 'APIGroupList', apiVersion: 'v1', groups };
  }

  private resourceList(group: string, version: string): JsonObject {
    const resources: Json[] = [];
    for (const r of this.resources.filter((x) => x.group === group && x.version === version)) {
      const entry: JsonObject = {
        name: r.plural, singularName: r.singular, namespaced: r.namespaced, kind: r.kind,
        verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
      };
      if (r.shortNames.length) entry.shortNames = [...r.shortNames];
      if (r.categories.length) entry.categories = [...r.categories];
      resources.push(entry);
      for (const sub of r.subresources) {
        if (sub === 'status') resources.push({ name: `${r.plural}/status`, singularName: '', namespaced: r.namespaced, kind: r.kind, verbs: ['get', 'patch', 'update'] });
        if (sub === 'binding') resources.push({ name: `${r.plural}/binding`, singularName: '', namespaced: true, kind: 'Binding', verbs: ['create'] });
        if (sub === 'eviction') resources.push({ name: `${r.plural}/eviction`, singularName: '', namespaced: true, group: 'policy', version: 'v1beta1', kind: 'Eviction', verbs: ['create'] });
      }
    }
    if (group === '' && version === 'v1') {
      resources.push({ name: 'bindings', singularName: '', namespaced: true, kind: 'Binding', verbs: ['create'] });
    }
    return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: group ? `${group}/${version}` : version, resources };
  }

  private findResource(group: string, version: string, plural: string): ResourceDef | undefined {
    return this.resources.find((r) => r.group === group && r.version === version && r.plural === plural);
  }

  private route(path: string): Route | undefined {
    const segs = path.split('/').filter(Boolean).map(decodeURIComponent);
    let group: string;
    let version: string;
    let rest: string[];
    if (segs[0] === 'api' && segs[1] === 'v1') {
      group = '';
      version = 'v1';
      rest = segs.slice(2);
    } else if (segs[0] === 'apis' && segs.length >= 3) {
      group = segs[1] ?? '';
      version = segs[2] ?? '';
      rest = segs.slice(3);
    } else return undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const ns = rest[1];
      const plural = rest[2] ?? '';
      if (group === '' && plural === 'bindings' && rest.length === 3) {
        const pods = this.findResource('', 'v1', 'pods');
        return pods ? { resource: pods, namespace: ns, name: undefined, subresource: 'bindings' } : undefined;
      }
      const r = this.findResource(group, version, plural);
      if (r?.namespaced && rest.length <= 5) return { resource: r, namespace: ns, name: rest[3], subresource: rest[4] };
      // /api/v1/namespaces/<name>/<subresource>
      const nsr = this.findResource(group, version, 'namespaces');
      if (nsr && rest.length === 3 && group === '') return { resource: nsr, namespace: undefined, name: ns, subresource: plural };
      return undefined;
    }
    const r = this.findResource(group, version, rest[0] ?? '');
    if (!r || rest.length > 3) return undefined;
    // a namespaced resource listed across all namespaces
    return { resource: r, namespace: undefined, name: rest[1], subresource: rest[2] };
  }

  private async dispatch(method: string, route: Route, q: URLSearchParams, req: IncomingMessage, res: ServerResponse, user: UserInfo): Promise<void> {
    const { resource: r, namespace, name, subresource } = route;
    if (r.namespaced && name !== undefined && namespace === undefined) throw errors.pathNotFound();
    if (subresource === 'bindings') {
      if (method !== 'POST') throw errors.methodNotAllowed();
      const body = parseJson(await readBody(req));
      const bindingName = isObject(body) && isObject(body.metadata) ? str(body.metadata.name) : undefined;
      if (!bindingName) throw errors.badRequest('a binding needs metadata.name');
      return this.bind(res, r, namespace, bindingName, body);
    }
    if (name === undefined) {
      if (method === 'GET') {
        if (q.get('watch') === 'true' || q.get('watch') === '1') return this.watch(req, res, r, namespace, q);
        return this.list(req, res, r, namespace, q);
      }
      if (method === 'POST') return this.create(res, r, namespace, parseJson(await readBody(req)), user);
      throw errors.methodNotAllowed();
    }
    if (subresource !== undefined && !(r.subresources as readonly string[]).includes(subresource) && !(r.plural === 'namespaces' && subresource === 'finalize')) {
      throw errors.pathNotFound();
    }
    if (subresource === 'binding') {
      if (method !== 'POST') throw errors.methodNotAllowed();
      return this.bind(res, r, namespace, name, parseJson(await readBody(req)));
    }
    if (subresource === 'eviction') {
      if (method !== 'POST') throw errors.methodNotAllowed();
      await readBody(req);
      await this.remove(r, namespace, name, undefined);
      return send(res, 201, successStatus(201));
    }
    const sub = subresource === 'status' || subresource === 'finalize' ? subresource : undefined;
    switch (method) {
      case 'GET': {
        const found = await this.store.get(r, namespace, name);
        if (!found) throw errors.notFound(r.plural, r.group, name);
        return this.respondObject(req, res, 200, r, found.object);
      }
      case 'PUT': {
        const body = parseJson(await readBody(req));
        if (!isObject(body)) throw errors.badRequest('the body must be a JSON object');
        const bodyName = isObject(body.metadata) ? str(body.metadata.name) : undefined;
        if (bodyName !== undefined && bodyName !== name) throw errors.badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${name})`);
        const precondition = isObject(body.metadata) ? str(body.metadata.resourceVersion) : undefined;
        const updated = await this.update(r, namespace, name, sub, precondition, () => clone(body));
        return send(res, 200, updated);
      }
      case 'PATCH': {
        const type = patchTypeOf(req.headers['content-type']);
        if (!type) throw errors.unsupportedMediaType(req.headers['content-type'] ?? '');
        const patch = parseJson(await readBody(req));
        const precondition = type !== 'json' && isObject(patch) && isObject(patch.metadata) ? str(patch.metadata.resourceVersion) : undefined;
        const updated = await this.update(r, namespace, name, sub, precondition, (current) => {
          const next = applyPatch(type, current, patch);
          if (!isObject(next)) throw errors.badRequest('the patch did not produce an object');
          return next;
        });
        return send(res, 200, updated);
      }
      case 'DELETE': {
        const text = await readBody(req);
        let precondition: string | undefined;
        if (text.trim()) {
          const opts = parseJson(text);
          if (isObject(opts) && isObject(opts.preconditions)) precondition = str(opts.preconditions.resourceVersion);
        }
        const deleted = await this.remove(r, namespace, name, precondition);
        return send(res, 200, deleted);
      }
      default:
        throw errors.methodNotAllowed();
    }
  }

  private respondObject(req: IncomingMessage, res: ServerResponse, status: number, r: ResourceDef, obj: JsonObject): void {
    const table = wantsTable(req.headers.accept);
    if (table) return send(res, status, toTable(table, r, [obj], str(metaOf(obj).resourceVersion) ?? '', this.clock()), 'application/json');
    send(res, status, obj);
  }

  private filterFrom(r: ResourceDef, q: URLSearchParams): WatchFilter {
    return {
      labels: parseLabelSelector(q.get('labelSelector') ?? ''),
      fields: parseFieldSelector(q.get('fieldSelector') ?? '', r),
    };
  }

  private matches(f: WatchFilter, obj: JsonObject): boolean {
    return labelsMatch(f.labels, labelsOf(obj)) && fieldsMatch(f.fields, obj);
  }

  private async list(req: IncomingMessage, res: ServerResponse, r: ResourceDef, namespace: string | undefined, q: URLSearchParams): Promise<void> {
    const filter = this.filterFrom(r, q);
    const rv = q.get('resourceVersion');
    let at: number | undefined;
    if (rv && rv !== '0') {
      const n = Number(rv);
      if (!Number.isInteger(n) || n < 0) throw errors.badRequest(`invalid resourceVersion ${rv}`);
      if (q.get('resourceVersionMatch') === 'Exact') at = n;
    }
    let listed: { items: JsonObject[]; revision: number };
    try {
      listed = await this.store.list(r, namespace, at);
    } catch (err) {
      if (err instanceof KipError && /compacted/.test(err.message)) throw errors.gone(`too old resource version: ${rv ?? ''}`);
      throw err;
    }
    const items = listed.items.filter((o) => this.matches(filter, o));
    const listRv = String(at ?? listed.revision);
    const table = wantsTable(req.headers.accept);
    if (table) return send(res, 200, toTable(table, r, items, listRv, this.clock()));
    send(res, 200, { kind: `${r.kind}List`, apiVersion: apiVersionOf(r), metadata: { resourceVersion: listRv }, items });
  }

  private watch(req: IncomingMessage, res: ServerResponse, r: ResourceDef, namespace: string | undefined, q: URLSearchParams): void {
    const filter = this.filterFrom(r, q);
    const rvParam = q.get('resourceVersion');
    const timeoutSeconds = Number(q.get('timeoutSeconds') ?? '') || 1800;
    let ended = false;
    let etcdWatch: EtcdWatch | undefined;
    let timer: NodeJS.Timeout | undefined;
    const end = (): void => {
      if (ended) return;
      ended = true;
      this.openWatches.delete(end);
      etcdWatch?.cancel();
      if (timer) clearTimeout(timer);
      if (!res.writableEnded) res.end();
    };
    const table = wantsTable(req.headers.accept);
    const write = (type: string, object: JsonObject): void => {
      if (ended) return;
      const shown = table && type !== 'ERROR' ? toTable(table, r, [object], str(metaOf(object).resourceVersion) ?? '', this.clock()) : object;
      res.write(JSON.stringify({ type, object: shown }) + '\n');
    };
    this.openWatches.add(end);
    req.on('close', end);
    res.on('close', end);
    const start = async (): Promise<void> => {
      let from: number;
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked', 'cache-control': 'no-cache, private' });
      res.flushHeaders();
      if (!rvParam || rvParam === '0') {
        const listed = await this.store.list(r, namespace);
        for (const o of listed.items) if (this.matches(filter, o)) write('ADDED', o);
        from = listed.revision + 1;
      } else {
        const n = Number(rvParam);
        if (!Number.isInteger(n) || n < 0) throw errors.badRequest(`invalid resourceVersion ${rvParam}`);
        from = n + 1;
      }
      if (ended) return;
      etcdWatch = this.store.watch(r, namespace, from, (events) => this.forward(r, filter, events, write), (err) => {
        if (err instanceof KipError && err.code === 'ETCD_COMPACTED') write('ERROR', errors.gone(`too old resource version: ${rvParam ?? ''}`).toStatus());
        else this.log.warn({ err }, 'etcd watch ended');
        end();
      });
      timer = setTimeout(end, timeoutSeconds * 1000);
    };
    start().catch((err: unknown) => {
      this.log.warn({ err }, 'watch failed');
      if (!res.headersSent && err instanceof ApiError) send(res, err.status, err.toStatus());
      else if (err instanceof ApiError) write('ERROR', err.toStatus());
      end();
    });
  }

  private forward(r: ResourceDef, filter: WatchFilter, events: EtcdWatchEvent[], write: (type: string, object: JsonObject) => void): void {
    for (const e of events) {
      const prev = e.prevKv ? this.store.present(r, e.prevKv) : undefined;
      if (e.type === 'DELETE') {
        if (prev && this.matches(filter, prev)) write('DELETED', this.store.present(r, e.prevKv ?? e.kv, e.kv.modRevision));
        continue;
      }
      const obj = this.store.present(r, e.kv);
      const now = this.matches(filter, obj);
      const before = prev !== undefined && this.matches(filter, prev);
      if (now && before) write('MODIFIED', obj);
      else if (now) write('ADDED', obj);
      else if (before) {
        // moved out of the selection: its last state, at this revision
        child(obj, 'metadata').resourceVersion = String(e.kv.modRevision);
        write('DELETED', obj);
      }
    }
  }

  private newObjectMeta(r: ResourceDef, namespace: string | undefined, body: JsonObject, name: string): JsonObject {
    const obj = clone(body);
    const meta = metaOf(obj);
    meta.name = name;
    if (r.namespaced) meta.namespace = namespace ?? 'default';
    else delete meta.namespace;
    meta.uid = this.newUid();
    meta.creationTimestamp = formatTime(this.clock());
    if (this.version.minor < 16) meta.selfLink = this.selfLink(r, namespace, name);
    delete meta.resourceVersion;
    delete meta.deletionTimestamp;
    if (r.group === 'apps' || r.group === 'extensions') meta.generation = 1;
    obj.apiVersion = apiVersionOf(r);
    obj.kind = r.kind;
    return obj;
  }

  private selfLink(r: ResourceDef, namespace: string | undefined, name: string): string {
    const base = r.group ? `/apis/${r.group}/${r.version}` : '/api/v1';
    return r.namespaced ? `${base}/namespaces/${namespace ?? ''}/${r.plural}/${name}` : `${base}/${r.plural}/${name}`;
  }

  private admit(r: ResourceDef, obj: JsonObject): void {
    if (r.plural === 'pods') {
      defaultPod(obj);
      if (this.config.admission?.defaultTolerationSeconds) applyDefaultTolerationSeconds(obj);
    }
    if (['deployments', 'daemonsets', 'statefulsets'].includes(r.plural)) {
      const tmplSpec = isObject(obj.spec) && isObject(obj.spec.template) && isObject(obj.spec.template.spec) ? obj.spec.template.spec : undefined;
      if (tmplSpec) defaultPodSpec(tmplSpec);
    }
  }

  private async requireNamespace(r: ResourceDef, namespace: string | undefined): Promise<void> {
    if (!r.namespaced) return;
    const nsr = this.findResource('', 'v1', 'namespaces');
    if (nsr && !(await this.store.get(nsr, undefined, namespace ?? ''))) throw errors.notFound('namespaces', '', namespace ?? '');
  }

  private async create(res: ServerResponse, r: ResourceDef, namespace: string | undefined, body: Json, user: UserInfo): Promise<void> {
    if (!isObject(body)) throw errors.badRequest('the body must be a JSON object');
    const meta = isObject(body.metadata) ? body.metadata : {};
    const bodyNs = str(meta.namespace);
    if (r.namespaced && bodyNs && namespace && bodyNs !== namespace) throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    const ns = r.namespaced ? namespace ?? bodyNs : undefined;
    if (r.namespaced && !ns) throw errors.badRequest('a namespaced object needs a namespace');
    await this.requireNamespace(r, ns);
    const explicit = str(meta.name);
    const generate = str(meta.generateName);
    if (!explicit && !generate) throw errors.invalid(r.kind, '', 'metadata.name: Required value: name or generateName is required');
    for (let attempt = 0; attempt < 5; attempt++) {
      const name = explicit ?? `${generate ?? ''}${Array.from({ length: 5 }, () => GENERATE_CHARS[randomInt(GENERATE_CHARS.length)]).join('')}`;
      if (!NAME_RE.test(name) || name.length > 253) throw errors.invalid(r.kind, name, 'metadata.name: Invalid value: a DNS-1123 subdomain must consist of lower case alphanumeric characters, \'-\' or \'.\'');
      const obj = this.newObjectMeta(r, ns, body, name);
      resetStatusOnCreate(r, obj);
      this.admit(r, obj);
      const created = await this.store.create(r, ns, name, obj);
      if (created) {
        this.log.debug({ resource: r.plural, namespace: ns, name, user: user.user }, 'created');
        return send(res, 201, created);
      }
      if (explicit) throw errors.alreadyExists(r.plural, r.group, name);
    }
    throw new ApiError(504, 'ServerTimeout', `could not generate a unique name for ${r.plural}`);
  }

  /**
   * Read-modify-write with compare-and-swap, retried while someone else wins the race, unless the
   * caller named a resourceVersion (then a stale one is a 409 Conflict).
   */
  private async update(r: ResourceDef, namespace: string | undefined, name: string, sub: 'status' | 'finalize' | undefined,
    precondition: string | undefined, mutate: (current: JsonObject) => JsonObject): Promise<JsonObject> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const found = await this.store.get(r, namespace, name);
      if (!found) throw errors.notFound(r.plural, r.group, name);
      const current = found.object;
      if (precondition !== undefined && precondition !== '' && precondition !== String(found.modRevision)) throw errors.conflict(r.plural, r.group, name);
      const proposed = mutate(clone(current));
      const next = this.mergeForUpdate(r, sub, current, proposed);
      if (sub === undefined) this.admit(r, next);
      const written = await this.store.update(r, namespace, name, next, found.modRevision);
      if (written) return written;
      if (precondition !== undefined && precondition !== '') throw errors.conflict(r.plural, r.group, name);
    }
    throw errors.conflict(r.plural, r.group, name, 'too many concurrent writers');
  }

  /** What of the proposed object an update may change, as the real registry strategies allow. */
  private mergeForUpdate(r: ResourceDef, sub: 'status' | 'finalize' | undefined, current: JsonObject, proposed: JsonObject): JsonObject {
    const curMeta = metaOf(current);
    let next: JsonObject;
    if (sub === 'status') {
      next = clone(current);
      if (proposed.status !== undefined) next.status = clone(proposed.status);
    } else if (sub === 'finalize') {
      next = clone(current);
      if (isObject(proposed.spec)) next.spec = clone(proposed.spec);
    } else {
      next = clone(proposed);
      if (r.subresources.includes('status')) {
        if (current.status === undefined) delete next.status;
        else next.status = clone(current.status);
      }
    }
    const meta = metaOf(next);
    for (const k of ['name', 'namespace', 'uid', 'creationTimestamp', 'selfLink', 'deletionTimestamp']) {
      const v = curMeta[k];
      if (v === undefined) delete meta[k];
      else meta[k] = v;
    }
    if (typeof curMeta.generation === 'number') {
      meta.generation = JSON.stringify(current.spec ?? null) !== JSON.stringify(next.spec ?? null) ? curMeta.generation + 1 : curMeta.generation;
    }
    next.apiVersion = apiVersionOf(r);
    next.kind = r.kind;
    return next;
  }

  private async remove(r: ResourceDef, namespace: string | undefined, name: string, precondition: string | undefined): Promise<JsonObject> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const found = await this.store.get(r, namespace, name);
      if (!found) throw errors.notFound(r.plural, r.group, name);
      if (precondition && precondition !== String(found.modRevision)) throw errors.conflict(r.plural, r.group, name);
      const res = await this.store.delete(r, namespace, name, found.modRevision);
      if (res.ok) {
        const out = found.object;
        metaOf(out).resourceVersion = String(res.revision);
        return out;
      }
    }
    throw errors.conflict(r.plural, r.group, name, 'too many concurrent writers');
  }

  private async bind(res: ServerResponse, pods: ResourceDef, namespace: string | undefined, name: string, body: Json): Promise<void> {
    const target = isObject(body) && isObject(body.target) ? body.target : undefined;
    const node = target ? str(target.name) : undefined;
    if (!node) throw errors.invalid('Binding', name, 'target.name: Required value');
    const now = formatTime(this.clock());
    await this.update(pods, namespace, name, undefined, undefined, (pod) => {
      const spec = child(pod, 'spec');
      const assigned = str(spec.nodeName);
      if (assigned) throw errors.conflict('pods/binding', '', name, `pod ${name} is already assigned to node "${assigned}"`);
      spec.nodeName = node;
      return pod;
    });
    await this.update(pods, namespace, name, 'status', undefined, (pod) => {
      const status = child(pod, 'status');
      const conds = (Array.isArray(status.conditions) ? status.conditions : []).filter((c) => !(isObject(c) && c.type === 'PodScheduled'));
      conds.push({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now });
      status.conditions = conds;
      return pod;
    });
    send(res, 201, successStatus(201));
  }
}

/**
 * Status a client may not set on create, as the registry strategies' PrepareForCreate do: pods start
 * Pending with their QoS class, namespaces Active, workloads with an empty status; nodes keep theirs.
 */
function resetStatusOnCreate(r: ResourceDef, obj: JsonObject): void {
  if (r.plural === 'pods') obj.status = { phase: 'Pending', qosClass: podQosClass(obj) };
  else if (r.plural === 'namespaces') obj.status = { phase: 'Active' };
  else if (r.subresources.includes('status') && r.plural !== 'nodes') obj.status = {};
}

/** Guaranteed: every container has cpu and memory limits equal to its requests; BestEffort: none at all. */
export function podQosClass(pod: JsonObject): string {
  const spec = isObject(pod.spec) ? pod.spec : {};
  const containers = [...(Array.isArray(spec.containers) ? spec.containers : []), ...(Array.isArray(spec.initContainers) ? spec.initContainers : [])].filter(isObject);
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const resources = isObject(c.resources) ? c.resources : {};
    const limits = isObject(resources.limits) ? resources.limits : {};
    const requests = isObject(resources.requests) ? { ...limits, ...resources.requests } : limits;
    if (Object.keys(limits).length || Object.keys(requests).length) any = true;
    for (const res of ['cpu', 'memory']) {
      if (limits[res] === undefined || String(limits[res]) !== String(requests[res])) guaranteed = false;
    }
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** The Kubernetes verb of a request (pkg/endpoints/request: GET on a collection is list, or watch with ?watch=true). */
function verbOf(method: string, named: boolean, q: URLSearchParams): string {
  if (method === 'GET') return q.get('watch') === 'true' || q.get('watch') === '1' ? 'watch' : named ? 'get' : 'list';
  return ({ POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete' } as Record<string, string>)[method] ?? method.toLowerCase();
}

/** Starts the lab apiserver on host:port (127.0.0.1 and a free port unless given). */
export async function startApiServer(config: ApiServerConfig): Promise<ApiServerHandle> {
  const api = new LabApiServer(config);
  await api.ensureNamespaces(config.initialNamespaces ?? ['default', 'kube-system', 'kube-public']);
  const server: Server = createServer({
    cert: config.tls.cert,
    key: config.tls.key,
    ca: config.tls.clientCa,
    requestCert: true,
    rejectUnauthorized: false,
  }, (req, res) => {
    void api.handle(req, res);
  });
  // watches are long-lived requests
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 30_000;
  const host = config.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause) => reject(new ApiServerStartError(`cannot listen on ${host}:${config.port ?? 0}: ${cause.message}`, { cause })));
    server.listen(config.port ?? 0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const url = `https://${host}:${port}`;
  config.logger.info({ url, gitVersion: config.gitVersion }, 'lab apiserver listening');
  let stopping: Promise<void> | undefined;
  return {
    url,
    port,
    version: api.serverVersion,
    requests: () => Object.fromEntries(api.requestCounts),
    stop: () => {
      stopping ??= new Promise<void>((resolve) => {
        api.endWatches();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };
}
