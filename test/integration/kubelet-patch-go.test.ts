// Patched-kubelet detection against real Go builds (issue 8, defect 2). A small Go program built
// with Debian's golang-go reproduces what the skip-file patch puts in a kubelet: a package whose
// path ends in pkg/kubelet/cache_version and that builds the skip-file path at run time with
// fmt.Sprintf("/%s/%s", "tmp", "cache.version.save") (kubernetes-1.9.1.IgnoreContainerRestart.patch,
// cache_version.go, SubCachVersion). Built stripped and unstripped, and a twin without the package.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { DEFAULT_SKIP_FILE_PATH, detectKubeletPatch, inspectKubeletBinary, scanFile, nodeBinaryFs } from '../../agent/kubelet/index.ts';

let dir = '';
const bins = { unstripped: '', stripped: '', plain: '', plainStripped: '' };

const PATCH_PKG = `package cache_version

import "fmt"

// As the patch does: the path is assembled at run time, so "/tmp/cache.version.save" is no literal.
//go:noinline
func VersionFile() string {
	return fmt.Sprintf("/%s/%s", "tmp", "cache.version.save")
}
`;

const main = (patched: boolean) => `package main

import (
	"fmt"
	"os"
${patched ? '\tcacheversion "example.com/kubernetes/pkg/kubelet/cache_version"\n' : ''})

func main() {
	if len(os.Args) > 1 && os.Args[1] == "--version" {
		fmt.Println("Kubernetes v1.11.10")
		return
	}
	${patched ? 'fmt.Println(cacheversion.VersionFile())' : 'fmt.Println(fmt.Sprintf("/%s/%s", "tmp", "other.file"))'}
}
`;

async function build(src: string, out: string, stripped: boolean): Promise<string> {
  const env = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: dir,
    GOCACHE: join(dir, 'gocache'),
    GOPATH: join(dir, 'gopath'),
    GOPROXY: 'off',
    GOFLAGS: '',
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
  };
  const path = join(dir, out);
  const args = ['build', '-trimpath', ...(stripped ? ['-ldflags=-s -w'] : []), '-o', path, '.'];
  const r = await execaExec('go', args, { cwd: src, env, timeoutMs: 240_000 });
  if (r.exitCode !== 0) throw new Error(`go build failed: ${r.stderr}`);
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-patch-go-'));
  for (const [name, patched] of [['patched', true], ['plain', false]] as const) {
    const src = join(dir, name);
    await mkdir(join(src, 'pkg/kubelet/cache_version'), { recursive: true });
    await writeFile(join(src, 'go.mod'), 'module example.com/kubernetes\n\ngo 1.19\n');
    await writeFile(join(src, 'main.go'), main(patched));
    if (patched) await writeFile(join(src, 'pkg/kubelet/cache_version/cache_version.go'), PATCH_PKG);
  }
  bins.unstripped = await build(join(dir, 'patched'), 'kubelet-patched', false);
  bins.stripped = await build(join(dir, 'patched'), 'kubelet-patched-stripped', true);
  bins.plain = await build(join(dir, 'plain'), 'kubelet-plain', false);
  bins.plainStripped = await build(join(dir, 'plain'), 'kubelet-plain-stripped', true);
}, 300_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('patched-kubelet detection on real Go builds', () => {
  it('the built program writes the path the patch uses, and the literal path is not in the binary', async () => {
    const r = await execaExec(bins.stripped, [], { timeoutMs: 10_000 });
    expect(r.stdout.trim()).toBe(DEFAULT_SKIP_FILE_PATH);
    // The detection before this fix searched for exactly this literal (fails on 9fc2631's inspect.ts).
    for (const b of [bins.unstripped, bins.stripped]) expect((await scanFile(b, nodeBinaryFs, DEFAULT_SKIP_FILE_PATH)).found).toBe(false);
  });

  it('finds both markers in the stripped and the unstripped build', async () => {
    for (const b of [bins.unstripped, bins.stripped]) {
      const r = await detectKubeletPatch(b);
      expect(r).toEqual({ patched: true, markers: [{ marker: 'cache.version.save', found: true }, { marker: 'pkg/kubelet/cache_version', found: true }] });
    }
    // -s -w really stripped something: the stripped build is smaller and has no .symtab.
    const [u, s] = await Promise.all([readFile(bins.unstripped), readFile(bins.stripped)]);
    expect(s.length).toBeLessThan(u.length);
    expect(u.includes('.symtab')).toBe(true);
    expect(s.includes('.symtab')).toBe(false);
  });

  it('reports a build without the patch as unpatched', async () => {
    for (const b of [bins.plain, bins.plainStripped]) {
      expect((await detectKubeletPatch(b)).patched).toBe(false);
    }
  });

  it('inspectKubeletBinary reports the version and the patch of the Go builds; markers are configurable', async () => {
    const info = await inspectKubeletBinary(bins.stripped, { exec: execaExec }, { chunkSize: 4096 });
    expect(info).toMatchObject({ patched: true, version: { raw: 'v1.11.10' } });
    expect((await inspectKubeletBinary(bins.plain, { exec: execaExec })).patched).toBe(false);
    // A port of the patch that renamed its package: the default list does not match, its own does.
    expect((await inspectKubeletBinary(bins.stripped, { exec: execaExec }, { patchMarkers: ['cache.version.save', 'pkg/kubelet/skipversion'] })).patched).toBe(false);
    expect((await inspectKubeletBinary(bins.stripped, { exec: execaExec }, { patchMarkers: ['cache_version.VersionFile'] })).patched).toBe(true);
  });
});
