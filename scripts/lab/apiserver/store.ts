/**
 * Kubernetes objects in etcd: one JSON value per object under <prefix>/<storage>/[<ns>/]<name>,
 * metadata.resourceVersion = the key's etcd mod revision (set on read, never stored), writes by
 * compare-and-swap on that revision.
 */
import type { EtcdClient, EtcdKv, EtcdWatch, EtcdWatchEvent } from '../etcd.ts';
import { apiVersionOf, type ResourceDef } from './resources.ts';
import { errors } from './status.ts';
import { child, isObject, type JsonObject } from './json.ts';

export interface StoredObject {
  readonly object: JsonObject;
  readonly modRevision: number;
}

export class ObjectStore {
  private readonly etcd: EtcdClient;
  private readonly prefix: string;

  constructor(etcd: EtcdClient, prefix = '/registry') {
    this.etcd = etcd;
    this.prefix = prefix.replace(/\/$/, '');
  }

  key(r: ResourceDef, namespace: string | undefined, name: string): string {
    return r.namespaced ? `${this.prefix}/${r.storage}/${namespace ?? ''}/${name}` : `${this.prefix}/${r.storage}/${name}`;
  }

  /** The key prefix of a collection; ends with "/" so namespace "a" never matches "ab". */
  collection(r: ResourceDef, namespace: string | undefined): string {
    return r.namespaced && namespace ? `${this.prefix}/${r.storage}/${namespace}/` : `${this.prefix}/${r.storage}/`;
  }

  /** Parses a stored value and presents it as resource r (apiVersion, kind, resourceVersion). */
  present(r: ResourceDef, kv: EtcdKv, revision = kv.modRevision): JsonObject {
    let parsed: unknown;
    try {
      parsed = JSON.parse(kv.value);
    } catch {
      parsed = undefined;
    }
    if (!isObject(parsed)) throw errors.badRequest(`stored object at ${kv.key} is not a JSON object`);
    const obj: JsonObject = { apiVersion: apiVersionOf(r), kind: r.kind, ...parsed };
    obj.apiVersion = apiVersionOf(r);
    obj.kind = r.kind;
    child(obj, 'metadata').resourceVersion = String(revision);
    return obj;
  }

  private serialize(obj: JsonObject): string {
    const copy: JsonObject = { ...obj };
    if (isObject(copy.metadata)) {
      const meta: JsonObject = { ...copy.metadata };
      delete meta.resourceVersion;
      copy.metadata = meta;
    }
    return JSON.stringify(copy);
  }

  async get(r: ResourceDef, namespace: string | undefined, name: string): Promise<StoredObject | undefined> {
    const { kv } = await this.etcd.get(this.key(r, namespace, name));
    return kv ? { object: this.present(r, kv), modRevision: kv.modRevision } : undefined;
  }

  async list(r: ResourceDef, namespace: string | undefined, atRevision?: number): Promise<{ items: JsonObject[]; revision: number }> {
    const { kvs, revision } = await this.etcd.list(this.collection(r, namespace), atRevision);
    return { items: kvs.map((kv) => this.present(r, kv)), revision };
  }

  async create(r: ResourceDef, namespace: string | undefined, name: string, obj: JsonObject): Promise<JsonObject | undefined> {
    const res = await this.etcd.create(this.key(r, namespace, name), this.serialize(obj));
    if (!res.ok) return undefined;
    const out: JsonObject = { ...obj, apiVersion: apiVersionOf(r), kind: r.kind };
    out.metadata = { ...child(obj, 'metadata'), resourceVersion: String(res.revision) };
    return out;
  }

  /** CAS write; undefined when the object changed since modRevision. */
  async update(r: ResourceDef, namespace: string | undefined, name: string, obj: JsonObject, modRevision: number): Promise<JsonObject | undefined> {
    const res = await this.etcd.update(this.key(r, namespace, name), this.serialize(obj), modRevision);
    if (!res.ok) return undefined;
    const out: JsonObject = { ...obj, apiVersion: apiVersionOf(r), kind: r.kind };
    out.metadata = { ...child(obj, 'metadata'), resourceVersion: String(res.revision) };
    return out;
  }

  async delete(r: ResourceDef, namespace: string | undefined, name: string, modRevision: number): Promise<{ ok: boolean; revision: number }> {
    const res = await this.etcd.deleteIf(this.key(r, namespace, name), modRevision);
    return { ok: res.ok, revision: res.revision };
  }

  watch(r: ResourceDef, namespace: string | undefined, fromRevision: number, onEvents: (events: EtcdWatchEvent[]) => void, onError: (err: Error) => void): EtcdWatch {
    return this.etcd.watch(this.collection(r, namespace), fromRevision, onEvents, onError);
  }
}
