import { readdir } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { SCHEMAS } from '../../lib/knowledge/hash/schema-files.ts';

describe('lib/knowledge/hash/schema-files.ts', () => {
  it('lists every schemas/*.json file, each under its own minor', async () => {
    const dir = new URL('../../lib/knowledge/hash/schemas/', import.meta.url);
    const onDisk = (await readdir(dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)).sort();
    expect(Object.keys(SCHEMAS).sort()).toEqual(onDisk);
    for (const [minor, file] of Object.entries(SCHEMAS)) expect((file as { kubeVersion: string }).kubeVersion).toBe(minor);
  });
});
