import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import {
  DEFAULT_PATCH_MARKERS,
  DEFAULT_SKIP_FILE_PATH,
  inspectKubeletBinary,
  KubeletBinaryReadError,
  KubeletBinaryVersionError,
  listKubeletFlags,
  nodeBinaryFs,
  parseHelpFlags,
  scanFile,
  StreamSearcher,
  type BinaryFs,
} from '../../agent/kubelet/index.ts';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-kubelet-inspect-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function script(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

describe('StreamSearcher', () => {
  const needle = Buffer.from(DEFAULT_SKIP_FILE_PATH);

  it('finds the needle wherever chunk boundaries cut it', () => {
    const noise = Buffer.from('x'.repeat(40));
    for (let offset = 0; offset <= noise.length; offset++) {
      const data = Buffer.concat([noise.subarray(0, offset), needle, noise.subarray(offset)]);
      for (let size = 1; size <= needle.length + 3; size++) {
        const s = new StreamSearcher(needle);
        for (let i = 0; i < data.length; i += size) s.push(data.subarray(i, i + size));
        expect(s.found, `offset ${offset} chunk ${size}`).toBe(true);
      }
    }
  });

  it('does not match a near miss split over chunks', () => {
    const data = Buffer.from(`${DEFAULT_SKIP_FILE_PATH.slice(0, -1)}X /tmp/cache.version.sav`);
    for (let size = 1; size <= 8; size++) {
      const s = new StreamSearcher(needle);
      for (let i = 0; i < data.length; i += size) s.push(data.subarray(i, i + size));
      expect(s.found).toBe(false);
    }
  });
});

describe('scanFile', () => {
  it('hashes, sizes and searches in one pass with small chunks', async () => {
    const body = Buffer.concat([randomBytes(1000), Buffer.from(DEFAULT_SKIP_FILE_PATH), randomBytes(777)]);
    const path = join(dir, 'blob');
    await writeFile(path, body);
    const expected = createHash('sha256').update(body).digest('hex');
    for (const chunk of [1, 3, 7, 16, 4096]) {
      const r = await scanFile(path, nodeBinaryFs, DEFAULT_SKIP_FILE_PATH, chunk);
      expect(r).toEqual({ sha256: expected, size: body.length, found: true, markers: [{ marker: DEFAULT_SKIP_FILE_PATH, found: true }] });
    }
    expect((await scanFile(path, nodeBinaryFs, '/etc/other.path', 5)).found).toBe(false);
    const both = await scanFile(path, nodeBinaryFs, [DEFAULT_SKIP_FILE_PATH, '/etc/other.path'], 3);
    expect(both).toMatchObject({ sha256: expected, found: false, markers: [{ found: true }, { found: false }] });
  });

  it('without sha256 (the patch check after an upload) stops reading once every needle is found', async () => {
    const body = Buffer.concat([randomBytes(100), Buffer.from(DEFAULT_SKIP_FILE_PATH), randomBytes(5000)]);
    const path = join(dir, 'early');
    await writeFile(path, body);
    const r = await scanFile(path, nodeBinaryFs, DEFAULT_SKIP_FILE_PATH, 64, false);
    expect(r.found).toBe(true);
    expect(r.sha256).toBe('');
    expect(r.size).toBeLessThan(body.length);
    const missing = await scanFile(path, nodeBinaryFs, [DEFAULT_SKIP_FILE_PATH, '/etc/other.path'], 64, false);
    expect(missing).toMatchObject({ found: false, size: body.length, markers: [{ found: true }, { found: false }] });
  });

  it('never asks the file system for more than one chunk at a time', async () => {
    const total = 10_000;
    const lengths: number[] = [];
    let pos = 0;
    let closed = false;
    const fakeFs: BinaryFs = {
      open: async () => ({
        read: async (buffer, offset, length) => {
          lengths.push(length);
          const n = Math.min(length, total - pos);
          buffer.fill(0x61, offset, offset + n);
          pos += n;
          return { bytesRead: n };
        },
        close: async () => {
          closed = true;
        },
      }),
    };
    const r = await scanFile('/fake', fakeFs, 'needle', 64);
    expect(r.size).toBe(total);
    expect(Math.max(...lengths)).toBe(64);
    expect(closed).toBe(true);
  });

  it('raises a typed error for a missing file', async () => {
    await expect(scanFile(join(dir, 'missing'), nodeBinaryFs, 'x')).rejects.toBeInstanceOf(KubeletBinaryReadError);
  });
});

describe('inspectKubeletBinary', () => {
  it('reports version, sha256, size and the patch markers of a (fake) patched kubelet', async () => {
    // Real Go builds are in test/integration/kubelet-patch-go.test.ts; here the markers are in a script.
    const path = await script('kubelet-patched', `# k8s.io/kubernetes/pkg/kubelet/cache_version.SubCachVersion cache.version.save\necho "Kubernetes v1.11.10"`);
    const info = await inspectKubeletBinary(path, { exec: execaExec }, { chunkSize: 5 });
    expect(info.version.raw).toBe('v1.11.10');
    expect(info.patched).toBe(true);
    expect(info.patchMarkers).toEqual(DEFAULT_PATCH_MARKERS.map((marker) => ({ marker, found: true })));
    expect(info.size).toBeGreaterThan(20);
    expect(info.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reports an unpatched kubelet, a partial hit as unpatched, and honours configured markers', async () => {
    const path = await script('kubelet-plain', 'echo "Kubernetes v1.12.0" # uses /var/lib/kip/skip and cache.version.save');
    const info = await inspectKubeletBinary(path, { exec: execaExec });
    expect(info.patched).toBe(false);
    expect(info.patchMarkers).toEqual([{ marker: 'cache.version.save', found: true }, { marker: 'pkg/kubelet/cache_version', found: false }]);
    expect((await inspectKubeletBinary(path, { exec: execaExec }, { patchMarkers: ['/var/lib/kip/skip'] })).patched).toBe(true);
  });

  it('reports a placeholder build without failing', async () => {
    const path = await script('kubelet-placeholder', "echo 'Kubernetes v0.0.0-master+$Format:%h$'");
    const info = await inspectKubeletBinary(path, { exec: execaExec });
    expect(info.version.placeholder).toBe(true);
  });

  it('reads a version printed on stderr', async () => {
    const path = await script('kubelet-stderr', 'echo "Kubernetes v1.10.13" >&2');
    expect((await inspectKubeletBinary(path, { exec: execaExec })).version.raw).toBe('v1.10.13');
  });

  it('fails with a typed error when --version hangs, fails or prints garbage', async () => {
    const hang = await script('kubelet-hang', 'exec sleep 30');
    const started = Date.now();
    await expect(inspectKubeletBinary(hang, { exec: execaExec }, { timeoutMs: 300 })).rejects.toMatchObject({ code: 'KUBELET_BINARY_VERSION_FAILED' });
    expect(Date.now() - started).toBeLessThan(10_000);
    const fail = await script('kubelet-fail', 'echo "error: bad" >&2; exit 3');
    await expect(inspectKubeletBinary(fail, { exec: execaExec })).rejects.toThrow(/exited with 3: error: bad/);
    const garbage = await script('kubelet-garbage', 'echo hello');
    await expect(inspectKubeletBinary(garbage, { exec: execaExec })).rejects.toBeInstanceOf(KubeletBinaryVersionError);
  });
});

describe('listKubeletFlags', () => {
  const help = [
    'The kubelet is the primary "node agent" that runs on each node.',
    '',
    'Usage:',
    '  kubelet [flags]',
    '',
    'Flags:',
    '      --address 0.0.0.0                                The IP address for the Kubelet to serve on',
    '      --feature-gates mapStringBool                    A set of key=value pairs',
    '  -h, --help                                           help for kubelet',
    '      --node-labels mapStringString                    Labels to add when registering the node',
    '  -v, --v Level                                        number for the log level verbosity',
    '      --log_dir string                                 If non-empty, write log files here',
  ].join('\n');

  it('parses cobra/pflag usage', () => {
    expect([...parseHelpFlags(help)].sort()).toEqual(['--address', '--feature-gates', '--help', '--log-dir', '--node-labels', '--v']);
    expect(() => parseHelpFlags('nothing here')).toThrow(KubeletBinaryVersionError);
  });

  it('runs the binary with --help', async () => {
    const path = await script('kubelet-help', `cat <<'HELP'\n${help}\nHELP`);
    const flags = await listKubeletFlags(path, execaExec);
    expect(flags.has('--node-labels')).toBe(true);
    expect(flags.has('--cadvisor-port')).toBe(false);
  });
});
