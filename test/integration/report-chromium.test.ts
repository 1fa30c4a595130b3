/**
 * kip report's HTML in a real headless browser (Debian's chromium): it loads as one file with no
 * network, renders (a screenshot is produced), and its timeline has one row per node with the
 * failed node's gate marked.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { main } from '../../coordinator/cli.ts';
import { createRun, engineOver, makeWorld, openStore, RUN_ID, specFor } from '../unit/engine-setup.ts';
import { fakePorts, fakeCluster, recordingIo } from '../unit/cli-fakes.ts';
import { makeCpWorld } from '../unit/cp-fakes.ts';
import { cpPorts, upgradeArgs } from '../unit/cp-setup.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-report-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

async function dumpDom(htmlPath: string): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), 'kip-chromium-'));
  try {
    const dom = await execaExec('chromium', [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--dump-dom', `file://${htmlPath}`], { timeoutMs: 90_000 });
    expect(dom.exitCode, dom.stderr).toBe(0);
    return dom.stdout;
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/** The cells of every <tr class="cls"> of the rendered DOM (tags stripped, entities decoded as chromium wrote them). */
const rowsOf = (dom: string, cls: string): string[][] => [...dom.matchAll(new RegExp(`<tr class="${cls}"[^>]*>(.*?)</tr>`, 'gs'))]
  .map((m) => [...m[1]!.matchAll(/<td>(.*?)<\/td>/gs)].map((c) => c[1]!.replace(/&gt;/g, '>').replace(/&amp;/g, '&')));

describe('kip report', () => {
  it('writes Markdown and one self-contained HTML page whose timeline renders in chromium with one row per node', async () => {
    const world = makeWorld(dir, 5, { restartNodes: ['w03'] });
    const store = openStore(dir);
    const spec = specFor(world, { canary: { count: 0 }, maxConcurrency: 2 });
    createRun(store, spec);
    const out = await engineOver(world, store, spec);
    expect(out.outcome.phase).toBe('paused');
    store.close();
    const io = recordingIo();
    expect(await main(['report', '--state-dir', dir, '--out', join(dir, 'out')], io, fakePorts(fakeCluster('v1.17.17', []), { stateDir: dir }))).toBe(0);
    const [mdPath, htmlPath] = io.out.trim().split('\n') as [string, string];
    const md = await readFile(mdPath, 'utf8');
    expect(md).toContain(`# kip run ${RUN_ID}`);
    expect(md).toMatch(/\| 1 \| w03 \| v1\.16\.15 -> v1\.17\.17 \| failed \|/);
    // the restarted container the gate saw on w03 is counted for its step (no prediction stored by this run)
    expect(md).toMatch(/\| 1 \| w01, w02, w03, w04, w05 -> v1\.17\.17 \| - \| [1-9]\d* \(\d of 5 nodes\) \| - \|/);
    const html = await readFile(htmlPath, 'utf8');
    expect(html).not.toMatch(/<(script|link|img)\b[^>]*(src|href)=/i); // self-contained

    const profile = await mkdtemp(join(tmpdir(), 'kip-chromium-'));
    try {
      const shot = join(dir, 'shot.png');
      const dom = await execaExec('chromium', [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, '--dump-dom', `file://${htmlPath}`], { timeoutMs: 90_000 });
      expect(dom.exitCode, dom.stderr).toBe(0);
      const rows = [...dom.stdout.matchAll(/<g class="row" data-node="([^"]+)"/g)].map((m) => m[1]);
      expect(rows).toEqual(['w01', 'w02', 'w03', 'w04', 'w05']);
      expect(dom.stdout).toMatch(/<g class="row" data-node="w03">.*?<circle class="event gate"/s);
      const png = await execaExec('chromium', [...CHROMIUM_FLAGS, `--user-data-dir=${profile}`, `--screenshot=${shot}`, '--window-size=1000,800', `file://${htmlPath}`], { timeoutMs: 90_000 });
      expect(png.exitCode, png.stderr).toBe(0);
      expect((await stat(shot)).size).toBeGreaterThan(5_000);
      const head = (await readFile(shot)).subarray(0, 8);
      expect(head.equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
    } finally {
      await rm(profile, { recursive: true, force: true });
    }
  }, 180_000);

  it('shows every control-plane action with its times and details, and restarts per step against the total and the unpatched prediction', async () => {
    const cpDir = join(dir, 'cp');
    const world = makeCpWorld(join(dir, 'cp-world.json'));
    const up = recordingIo();
    expect(await main(upgradeArgs(cpDir), up, cpPorts(world, cpDir)), up.err).toBe(0);
    const io = recordingIo();
    expect(await main(['report', '--state-dir', cpDir], io, cpPorts(world, cpDir))).toBe(0);
    const [mdPath, htmlPath] = io.out.trim().split('\n') as [string, string];
    const md = await readFile(mdPath, 'utf8');
    expect(md).toContain('## Control plane');
    expect(md).toMatch(/\| 1 \(v1\.12\.10 -> v1\.13\.12\) \| etcd snapshot through cp1 \| cp1 \| \S+Z \| \d+\.\d s \| ok \| \S+\/snapshots\/\S+\.db \(\d+ bytes, revision 42,/);

    const dom = await dumpDom(htmlPath);
    const cp = rowsOf(dom, 'cp-action');
    const actions = cp.map((r) => r[1]);
    // a..g of the procedure, in order, each once
    expect(actions).toEqual([
      'pod baseline for the post-checks', 'etcd snapshot through cp1', 'hold kube-controller-manager on cp1', 'hold kube-scheduler on cp1', 'kube-apiserver on cp1',
      'swap kube-controller-manager on cp1 while held', 'swap kube-scheduler on cp1 while held', 'kubelet step 1',
      'not-ready/unreachable tolerations on every pod (TaintBasedEvictions is on from here)',
      'release kube-controller-manager on cp1', 'release kube-scheduler on cp1', 'post-checks',
    ]);
    for (const r of cp) {
      expect(r[3], r.join(' | ')).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(r[4], r.join(' | ')).toMatch(/^\d+\.\d s$/);
      expect(r[5]).toBe('ok');
    }
    expect(cp[1]![6]).toMatch(/snapshots\/.*\.db \(\d+ bytes, revision 42, sha256 [0-9a-f]{12}…, from cp1\)/);
    expect(cp[4]![6]).toMatch(/^agent run kip-\S+\.cp0\.cp1\.kube-apiserver\.a1/);
    expect(cp[8]![6]).toMatch(/^\d+ pods touched/);
    const restarts = rowsOf(dom, 'step-restarts');
    expect(restarts).toHaveLength(1);
    const [step, kubelets, containers, restarted, predicted] = restarts[0]!;
    expect([step, kubelets, restarted]).toEqual(['1', 'cp1, w1, w2 -> v1.13.12', '0']);
    expect(Number(containers)).toBeGreaterThan(0);
    expect(predicted).toMatch(/^\d+$/);
  }, 180_000);
});
