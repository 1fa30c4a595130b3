import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandHostPattern, parseAnsibleInventory } from '../../coordinator/fleet/ansible-inventory.ts';
import { parseInventory } from '../../coordinator/fleet/inventory.ts';
import { main } from '../../coordinator/cli.ts';
import { stringify } from 'yaml';

const DIR = path.resolve(import.meta.dirname, '../../scripts/ansible');
const expected = [
  { node: 'cp-1', address: '10.0.0.10:7443', source: 'inventory', groups: ['control_plane', 'etcd'] },
  { node: 'worker-1', address: '10.0.0.11:7443', source: 'inventory', groups: ['workers'] },
  { node: 'worker-2', address: '10.0.0.12:7444', source: 'inventory', groups: ['workers'] },
];

function io(files: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out, err,
    io: { stdout: (s: string) => out.push(s), stderr: (s: string) => err.push(s), readInput: async (p: string) => files[p] ?? readFile(p, 'utf8') },
  };
}

describe('kip inventory --from-ansible', () => {
  it('reads the example INI and YAML inventories to the same agents', async () => {
    for (const f of ['inventory.example.ini', 'inventory.example.yml']) {
      expect(parseAnsibleInventory(await readFile(path.join(DIR, f), 'utf8'), f)).toEqual(expected);
    }
  });

  it('merges variables as Ansible does: all < parent group < child group < host', () => {
    const ini = [
      '[all:vars]', 'kip_agent_port=1000', '',
      '[nodes:children]', 'workers', '',
      '[nodes:vars]', 'kip_agent_port=2000', '',
      '[workers]', 'w[01:02] ansible_host=10.1.0.1', 'w03 ansible_host=10.1.0.3 kip_agent_port=4000', '',
      '[workers:vars]', 'kip_agent_port=3000', '',
      '[etcd]', 'e1 ansible_host=10.2.0.1 kip_agent_address="fd00::1"',
    ].join('\n');
    expect(parseAnsibleInventory(ini, 'x.ini').map((a) => [a.node, a.address, a.groups])).toEqual([
      ['e1', '[fd00::1]:1000', ['etcd']],
      ['w01', '10.1.0.1:3000', ['workers']],
      ['w02', '10.1.0.1:3000', ['workers']],
      ['w03', '10.1.0.3:4000', ['workers']],
    ]);
  });

  it('skips hosts with kip_agent_state=absent and expands ranges keeping zeros', () => {
    expect(expandHostPattern('n[08:10].x', 'f')).toEqual(['n08.x', 'n09.x', 'n10.x']);
    const yaml = stringify({ all: { children: { workers: { hosts: { a: { ansible_host: '1.1.1.1' }, b: { ansible_host: '1.1.1.2', kip_agent_state: 'absent' } } } } } });
    expect(parseAnsibleInventory(yaml, 'y').map((a) => a.node)).toEqual(['a']);
  });

  it('names every host without an address (exit 2), and a bad port', async () => {
    expect(() => parseAnsibleInventory('[workers]\nw1 ansible_host=1.2.3.4\nw2\nw3\n', 'bad.ini')).toThrow(/hosts w2, w3 have no address: set ansible_host \(or kip_agent_address\)/);
    expect(() => parseAnsibleInventory('all:\n  hosts:\n    w1: {ansible_host: 1.2.3.4, kip_agent_port: x}\n', 'p.yml')).toThrow(/host w1: kip_agent_port "x" is not a port/);
    expect(() => parseAnsibleInventory('all:\n  hosts: [a, b]\n', 'l.yml')).toThrow(/all.hosts must be a mapping/);
    const t = io({ 'bad.ini': '[workers]\nw2\n' });
    expect(await main(['inventory', '--from-ansible', 'bad.ini'], t.io)).toBe(2);
    expect(t.err.join('')).toMatch(/host w2 has no address/);
  });

  it("prints kip's inventory YAML, which --inventory reads back", async () => {
    const t = io();
    expect(await main(['inventory', '--from-ansible', path.join(DIR, 'inventory.example.ini')], t.io)).toBe(0);
    expect(parseInventory(t.out.join(''), 'out.yml')).toEqual(expected.map(({ groups: _g, ...e }) => e));
  });
});
