import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials, status, type sendUnaryData, type ServerUnaryCall, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { criServices } from '../../agent/runtime/cri-proto.ts';
import { CriError, createCriClient, normalizeCriAddress } from '../../agent/runtime/cri.ts';
import { InvalidInputError } from '../../lib/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'kip-cri-unit-'));
const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.tryShutdown(() => r()))));
  rmSync(dir, { recursive: true, force: true });
});

type Handler = (call: ServerUnaryCall<Record<string, unknown>, unknown>, cb: sendUnaryData<unknown>) => void;

/** A fake CRI runtime over a unix socket that serves only the given API packages and methods. */
async function fakeRuntime(name: string, impl: Partial<Record<'v1' | 'v1alpha2', Record<string, Handler>>>): Promise<string> {
  const server = new Server();
  for (const v of ['v1', 'v1alpha2'] as const) {
    const methods = impl[v];
    if (methods !== undefined) server.addService(criServices()[v].runtime, methods as UntypedServiceImplementation);
  }
  const address = `unix://${join(dir, `${name}.sock`)}`;
  await new Promise<void>((resolve, reject) => server.bindAsync(address, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  servers.push(server);
  return address;
}

const version = (api: string): Handler => (_call, cb) => cb(null, { version: '0.1.0', runtimeName: 'fake', runtimeVersion: '9.9', runtimeApiVersion: api });

describe('normalizeCriAddress', () => {
  it('accepts unix URLs and absolute paths, refuses the rest', () => {
    expect(normalizeCriAddress('unix:///run/x.sock')).toBe('unix:///run/x.sock');
    expect(normalizeCriAddress('/run/x.sock')).toBe('unix:///run/x.sock');
    expect(() => normalizeCriAddress('127.0.0.1:10010')).toThrow(InvalidInputError);
  });
});

describe('createCriClient against a fake runtime', () => {
  it('falls back to runtime.v1alpha2 when runtime.v1 is unimplemented, and decodes containers', async () => {
    let lastFilter: unknown;
    const address = await fakeRuntime('alpha', {
      v1alpha2: {
        Version: version('v1alpha2'),
        ListContainers: (call, cb) => {
          lastFilter = call.request.filter;
          cb(null, {
            containers: [
              {
                id: 'c1',
                podSandboxId: 'p1',
                metadata: { name: 'app', attempt: 3 },
                image: { image: 'busybox' },
                imageRef: 'sha256:1',
                state: 'CONTAINER_EXITED',
                createdAt: '1795747632619851401',
                labels: { 'io.kubernetes.pod.uid': 'u' },
                annotations: { 'io.kubernetes.container.hash': 'abc' },
              },
            ],
          });
        },
      },
    });
    const cri = createCriClient({ address, timeoutMs: 5_000 });
    try {
      expect(await cri.apiVersion()).toBe('v1alpha2');
      expect(await cri.version()).toEqual({ criApi: 'v1alpha2', runtimeName: 'fake', runtimeVersion: '9.9', runtimeApiVersion: 'v1alpha2' });
      const [c] = await cri.listContainers({ state: 'running', labelSelector: { a: 'b' } });
      expect(c).toEqual({
        id: 'c1',
        podSandboxId: 'p1',
        name: 'app',
        attempt: 3,
        state: 'exited',
        createdAtNs: 1795747632619851401n, // exact: beyond a double's precision
        labels: { 'io.kubernetes.pod.uid': 'u' },
        annotations: { 'io.kubernetes.container.hash': 'abc' },
        image: 'busybox',
        imageRef: 'sha256:1',
      });
      expect(lastFilter).toMatchObject({ state: { state: 'CONTAINER_RUNNING' }, labelSelector: { a: 'b' } });
    } finally {
      cri.close();
    }
  });

  it('prefers runtime.v1 when both are served', async () => {
    const address = await fakeRuntime('both', { v1: { Version: version('v1') }, v1alpha2: { Version: version('v1alpha2') } });
    const cri = createCriClient({ address });
    try {
      expect(await cri.apiVersion()).toBe('v1');
    } finally {
      cri.close();
    }
  });

  it('reports CRI_NO_SUPPORTED_API when neither package is served', async () => {
    const address = await fakeRuntime('none', {});
    const cri = createCriClient({ address });
    try {
      await expect(cri.version()).rejects.toMatchObject({ code: 'CRI_NO_SUPPORTED_API' });
    } finally {
      cri.close();
    }
  });

  it('puts a deadline on every call', async () => {
    const address = await fakeRuntime('slow', { v1: { Version: version('v1'), ListPodSandbox: () => undefined /* never answers */ } });
    const cri = createCriClient({ address, timeoutMs: 300 });
    try {
      const started = Date.now();
      const err: unknown = await cri.listPodSandboxes().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CriError);
      expect((err as CriError).code).toBe('CRI_DEADLINE_EXCEEDED');
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      cri.close();
    }
  });

  it('maps NOT_FOUND and parses the restart count annotation', async () => {
    const address = await fakeRuntime('status', {
      v1: {
        Version: version('v1'),
        ContainerStatus: (call, cb) => {
          if (call.request.containerId !== 'c1') {
            cb({ code: status.NOT_FOUND, details: `no container ${String(call.request.containerId)}` });
            return;
          }
          cb(null, {
            status: {
              id: 'c1',
              metadata: { name: 'app', attempt: 2 },
              state: 'CONTAINER_RUNNING',
              createdAt: '10',
              startedAt: '20',
              exitCode: 0,
              annotations: { 'io.kubernetes.container.restartCount': '2' },
            },
          });
        },
      },
    });
    const cri = createCriClient({ address });
    try {
      const s = await cri.containerStatus('c1');
      expect(s).toMatchObject({ id: 'c1', attempt: 2, state: 'running', createdAtNs: 10n, startedAtNs: 20n, finishedAtNs: 0n, restartCount: 2 });
      await expect(cri.containerStatus('c2')).rejects.toMatchObject({ code: 'CRI_NOT_FOUND', details: { grpcCode: status.NOT_FOUND } });
      await expect(cri.containerStatus('')).rejects.toBeInstanceOf(InvalidInputError);
    } finally {
      cri.close();
    }
  });

  it('reports CRI_UNAVAILABLE when nothing listens, and detects again once something does', async () => {
    const path = join(dir, 'late.sock');
    const cri = createCriClient({ address: `unix://${path}`, timeoutMs: 2_000 });
    try {
      await expect(cri.version()).rejects.toMatchObject({ code: 'CRI_UNAVAILABLE' });
      await fakeRuntime('late', { v1: { Version: version('v1') } });
      // grpc-js backs off reconnects; poll with a deadline instead of sleeping a fixed time
      const deadline = Date.now() + 20_000;
      let v: string | undefined;
      while (v === undefined && Date.now() < deadline) {
        v = await cri.apiVersion().catch(() => undefined);
        if (v === undefined) await new Promise((r) => setTimeout(r, 200));
      }
      expect(v).toBe('v1');
    } finally {
      cri.close();
    }
  }, 30_000);
});
