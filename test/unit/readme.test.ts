// The README is the operator's reference: it must list every agent option and keep a two-line quick start.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OPTIONS } from '../../agent/config.ts';

const readme = readFileSync(join(import.meta.dirname, '../../README.md'), 'utf8');
const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

describe('README', () => {
  it.each(OPTIONS.map((o) => [o.key, o] as const))('documents the agent option %s with its flag and default', (key, o) => {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
    expect(row, `no README row for ${key}`).toBeDefined();
    expect(row).toContain(`\`--${kebab(key)}\``);
    const d = o.default();
    if (key !== 'nodeName') expect(row).toContain(typeof d === 'string' ? `\`${d}\`` : JSON.stringify(d));
  });

  it('has a quick start of exactly two command lines', () => {
    const section = readme.slice(readme.indexOf('## Quick start'));
    const block = /```\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    expect(block.trim().split('\n')).toEqual(['npm run demo', 'npm test']);
  });
});
