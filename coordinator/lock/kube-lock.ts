/**
 * The cluster lock over the raw REST client (lib/kube/raw.ts): a Lease where coordination.k8s.io/v1
 * is served, else an annotation on the kube-system namespace. Every write carries the
 * resourceVersion it read (a merge patch with metadata.resourceVersion is a precondition), so a
 * concurrent taker gets 409 and re-reads.
 */
import { KipError } from '../../lib/errors.ts';
import { RawKubeApiError, type KubeRest } from '../../lib/kube/raw.ts';
import { expired, LockHeldError, type ClusterLock, type LockHolder } from './lock.ts';

export const LOCK_NAME = 'kip-upgrade';
export const LOCK_NAMESPACE = 'kube-system';
export const LOCK_ANNOTATION = 'kip.io/lock';
const RUN_ANNOTATION = 'kip.io/run';

const LEASE_GROUP = '/apis/coordination.k8s.io/v1';
const LEASE_PATH = `${LEASE_GROUP}/namespaces/${LOCK_NAMESPACE}/leases/${LOCK_NAME}`;
const NS_PATH = `/api/v1/namespaces/${LOCK_NAMESPACE}`;
const MERGE = 'application/merge-patch+json';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const status = (err: unknown): number | undefined => (err instanceof RawKubeApiError ? err.status : undefined);

/** MicroTime as the API writes it (RFC 3339 with microseconds). */
const microTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

interface Backend {
  readonly where: string;
  /** The holder and the resourceVersion to write against (undefined object: no lock object at all). */
  read(): Promise<{ holder: LockHolder | undefined; resourceVersion: string | undefined; exists: boolean }>;
  /** Writes the holder (or removes it: undefined) if the object is still at resourceVersion; false on conflict. */
  write(holder: LockHolder | undefined, resourceVersion: string | undefined, exists: boolean): Promise<boolean>;
}

function leaseBackend(rest: KubeRest): Backend {
  return {
    where: `Lease ${LOCK_NAMESPACE}/${LOCK_NAME}`,
    read: async () => {
      let value: unknown;
      try {
        value = (await rest.get(LEASE_PATH)).value;
      } catch (err) {
        if (status(err) === 404) return { holder: undefined, resourceVersion: undefined, exists: false };
        throw err;
      }
      const meta = isObj(value) && isObj(value.metadata) ? value.metadata : {};
      const spec = isObj(value) && isObj(value.spec) ? value.spec : {};
      const ann = isObj(meta.annotations) ? meta.annotations : {};
      const rv = typeof meta.resourceVersion === 'string' ? meta.resourceVersion : undefined;
      const holder = typeof spec.holderIdentity === 'string' && spec.holderIdentity !== '' && typeof ann[RUN_ANNOTATION] === 'string'
        ? {
            holder: spec.holderIdentity,
            runId: ann[RUN_ANNOTATION] as string,
            acquiredAt: Date.parse(String(spec.acquireTime ?? '')) || 0,
            renewedAt: Date.parse(String(spec.renewTime ?? '')) || 0,
            ttlMs: Number(spec.leaseDurationSeconds ?? 0) * 1000,
          }
        : undefined;
      return { holder, resourceVersion: rv, exists: true };
    },
    write: async (h, rv, exists) => {
      const spec = h
        ? { holderIdentity: h.holder, leaseDurationSeconds: Math.ceil(h.ttlMs / 1000), acquireTime: microTime(h.acquiredAt), renewTime: microTime(h.renewedAt) }
        : { holderIdentity: null, leaseDurationSeconds: null, acquireTime: null, renewTime: null };
      const annotations = { [RUN_ANNOTATION]: h ? h.runId : null };
      try {
        if (!exists) {
          if (!h) return true;
          await rest.send('POST', `${LEASE_GROUP}/namespaces/${LOCK_NAMESPACE}/leases`, {
            apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: LOCK_NAME, namespace: LOCK_NAMESPACE, annotations }, spec,
          });
        } else {
          await rest.send('PATCH', LEASE_PATH, { metadata: { resourceVersion: rv, annotations }, spec }, MERGE);
        }
        return true;
      } catch (err) {
        if (status(err) === 409) return false;
        throw err;
      }
    },
  };
}

function namespaceBackend(rest: KubeRest): Backend {
  return {
    where: `namespace ${LOCK_NAMESPACE} annotation ${LOCK_ANNOTATION}`,
    read: async () => {
      const { value } = await rest.get(NS_PATH);
      const meta = isObj(value) && isObj(value.metadata) ? value.metadata : {};
      const ann = isObj(meta.annotations) ? meta.annotations : {};
      const raw = ann[LOCK_ANNOTATION];
      let holder: LockHolder | undefined;
      if (typeof raw === 'string' && raw !== '') {
        try {
          const p = JSON.parse(raw) as Partial<LockHolder>;
          if (typeof p.holder === 'string' && typeof p.runId === 'string') {
            holder = { holder: p.holder, runId: p.runId, acquiredAt: Number(p.acquiredAt ?? 0), renewedAt: Number(p.renewedAt ?? 0), ttlMs: Number(p.ttlMs ?? 0) };
          }
        } catch {
          // An unreadable annotation is nobody's lock: treat it as absent (it is overwritten on acquire).
        }
      }
      return { holder, resourceVersion: typeof meta.resourceVersion === 'string' ? meta.resourceVersion : undefined, exists: true };
    },
    write: async (h, rv) => {
      try {
        await rest.send('PATCH', NS_PATH, { metadata: { resourceVersion: rv, annotations: { [LOCK_ANNOTATION]: h ? JSON.stringify(h) : null } } }, MERGE);
        return true;
      } catch (err) {
        if (status(err) === 409) return false;
        throw err;
      }
    },
  };
}

export class LockLostError extends KipError {}

export function kubeClusterLock(rest: KubeRest): ClusterLock {
  let backend: Promise<Backend> | undefined;
  const pick = (): Promise<Backend> => {
    backend ??= rest.get(LEASE_GROUP).then(() => leaseBackend(rest), (err: unknown) => {
      if (status(err) === 404) return namespaceBackend(rest);
      backend = undefined;
      throw err;
    });
    return backend;
  };
  const update = async (fn: (current: LockHolder | undefined) => LockHolder | undefined | 'keep'): Promise<LockHolder | undefined> => {
    const b = await pick();
    for (let attempt = 0; attempt < 5; attempt++) {
      const cur = await b.read();
      const next = fn(cur.holder);
      if (next === 'keep') return cur.holder;
      if (await b.write(next, cur.resourceVersion, cur.exists)) return next;
    }
    throw new LockLostError('LOCK_CONTENDED', `${b.where} kept changing under five attempts to write it: another coordinator is racing for it`);
  };
  return {
    where: async () => (await pick()).where,
    read: async () => (await (await pick()).read()).holder,
    acquire: async (holder, runId, ttlMs, now) => {
      const where = (await pick()).where;
      const got = await update((cur) => {
        if (cur && cur.runId !== runId && !expired(cur, now)) throw new LockHeldError(cur, where, now);
        return { holder, runId, acquiredAt: cur?.runId === runId ? cur.acquiredAt : now, renewedAt: now, ttlMs };
      });
      return got!;
    },
    renew: async (runId, now) => {
      const where = (await pick()).where;
      const got = await update((cur) => {
        if (!cur || cur.runId !== runId) {
          if (cur) throw new LockHeldError(cur, where, now);
          throw new LockLostError('LOCK_LOST', `the lock of run ${runId} (${where}) was removed (kip unlock --force?): stopping new work`, { runId });
        }
        return { ...cur, renewedAt: now };
      });
      return got!;
    },
    release: async (runId) => {
      await update((cur) => (cur && cur.runId === runId ? undefined : 'keep'));
    },
    forceRelease: async () => {
      let was: LockHolder | undefined;
      await update((cur) => {
        was = cur;
        return cur ? undefined : 'keep';
      });
      return was;
    },
  };
}
