import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCgroupMounts } from '../../scripts/nspawn/cgroup.ts';
import { withLock } from '../../scripts/nspawn/lock.ts';
import { baseImageKey } from '../../scripts/nspawn/base-image.ts';
import { parseMountInfo } from '../../scripts/nspawn/node.ts';

describe('parseCgroupMounts', () => {
  it('finds cgroup2 and the named v1 systemd hierarchy on a hybrid host', () => {
    const mounts = [
      'tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0',
      'cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0',
      'cgroup /sys/fs/cgroup/systemd cgroup rw,relatime,name=systemd 0 0',
      'cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0',
    ].join('\n');
    expect(parseCgroupMounts(mounts)).toEqual({ unified: '/sys/fs/cgroup/unified', systemdV1: '/sys/fs/cgroup/systemd' });
  });
  it('handles a pure cgroup2 host', () => {
    expect(parseCgroupMounts('cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid 0 0\n')).toEqual({ unified: '/sys/fs/cgroup', systemdV1: undefined });
  });
  it('raises a typed error without cgroup2', () => {
    expect(() => parseCgroupMounts('proc /proc proc rw 0 0')).toThrow(expect.objectContaining({ code: 'NSPAWN_CGROUP_FAILED' }));
  });
});

describe('parseMountInfo', () => {
  it('reads mount point, type and source, with and without optional fields and escapes', () => {
    const text = [
      '36 35 98:0 / /tmp/a\\040b/root rw,relatime shared:1 master:2 - overlay kipnode-123-kip-a rw,lowerdir=/x',
      '37 35 0:5 / /proc rw - proc proc rw',
      '',
    ].join('\n');
    expect(parseMountInfo(text)).toEqual([
      { mountPoint: '/tmp/a b/root', fsType: 'overlay', source: 'kipnode-123-kip-a' },
      { mountPoint: '/proc', fsType: 'proc', source: 'proc' },
    ]);
  });
});

describe('baseImageKey', () => {
  it('depends on the package set, not its order', () => {
    expect(baseImageKey('bookworm', ['a', 'b'])).toBe(baseImageKey('bookworm', ['b', 'a']));
    expect(baseImageKey('bookworm', ['a', 'b'])).not.toBe(baseImageKey('bookworm', ['a', 'c']));
    expect(baseImageKey('bookworm', ['a'])).not.toBe(baseImageKey('trixie', ['a']));
  });
});

describe('withLock', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kip-lock-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('serialises concurrent holders and releases the lock', async () => {
    const lock = join(dir, 'serial');
    let inside = 0;
    let maxInside = 0;
    const order: number[] = [];
    await Promise.all(
      [1, 2, 3, 4].map((i) =>
        withLock(lock, { timeoutMs: 10_000, pollMs: 10 }, async () => {
          inside += 1;
          maxInside = Math.max(maxInside, inside);
          await new Promise((r) => setTimeout(r, 20));
          order.push(i);
          inside -= 1;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    expect(order.sort()).toEqual([1, 2, 3, 4]);
    expect(await readdir(dir)).not.toContain('serial');
  });

  it('releases the lock when the body throws', async () => {
    const lock = join(dir, 'throws');
    await expect(withLock(lock, { timeoutMs: 1_000 }, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await withLock(lock, { timeoutMs: 1_000 }, async () => 'again')).toBe('again');
  });

  it('takes over a lock whose owner process is gone', async () => {
    const lock = join(dir, 'stale');
    await mkdir(lock);
    // 4194305 is above the kernel's PID_MAX_LIMIT (2^22), so no such process can exist.
    await writeFile(join(lock, 'owner'), `${hostname()} 4194305 dead\n`);
    expect(await withLock(lock, { timeoutMs: 2_000, pollMs: 10 }, async () => 'taken')).toBe('taken');
  });

  it('times out with a typed error while a live owner holds it', async () => {
    const lock = join(dir, 'held');
    await mkdir(lock);
    await writeFile(join(lock, 'owner'), `${hostname()} ${process.pid} live\n`);
    await expect(withLock(lock, { timeoutMs: 200, pollMs: 20 }, async () => 'never')).rejects.toMatchObject({ code: 'NSPAWN_LOCK_TIMEOUT' });
  });
});
