import { describe, expect, it } from 'vitest';
import {
  ContainerDecodeError, MalformedJsonError, UnsupportedKubeVersionError, collectContainers, containerHash,
  hashAll, hashEngine, parseJson,
} from '../../lib/knowledge/hash/index.ts';

const base = { name: 'app', image: 'nginx:1.15', terminationMessagePath: '/dev/termination-log', imagePullPolicy: 'IfNotPresent' };
const hash = (c: object | string, v: string, source?: 'apiserver' | 'file'): string => containerHash(c, v, { source }).label;

describe('decoding like the Go kubelet', () => {
  it('names the path of a field of the wrong type', () => {
    expect(() => hash({ ...base, ports: [{ containerPort: '80' }] }, '1.17')).toThrow('ports[0].containerPort: expected integer, found a string');
    expect(() => hash({ ...base, stdin: 'yes' }, '1.10')).toThrow('stdin: expected boolean');
    expect(() => hash({ ...base, command: 'sleep' }, '1.14')).toThrow('command: expected array');
    expect(() => hash({ ...base, ports: [{ containerPort: 1.5 }] }, '1.17')).toThrow('ports[0].containerPort: expected integer, found number 1.5');
    expect(() => hash({ ...base, ports: [{ containerPort: 2 ** 31 }] }, '1.17')).toThrow('overflows int32');
  });

  it('quotes an unparsable quantity', () => {
    const err = (() => {
      try {
        hash({ ...base, resources: { limits: { cpu: '1.5 cores' } } }, '1.17');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ContainerDecodeError);
    expect((err as Error).message).toContain('resources.limits["cpu"]: unparsable quantity "1.5 cores"');
  });

  it('says where malformed JSON breaks', () => {
    expect(() => hash('{"name": "a",\n "image": }', '1.17')).toThrow(MalformedJsonError);
    expect(() => hash('{"name": "a",\n "image": }', '1.17')).toThrow('line 2, column 11');
  });

  it('refuses an unknown version with the supported list', () => {
    expect(() => hash(base, '1.9')).toThrow(UnsupportedKubeVersionError);
    expect(() => hash(base, '1.9')).toThrow(/1\.10, 1\.11, .*1\.36/);
    expect(() => hash(base, 'latest')).toThrow(UnsupportedKubeVersionError);
  });

  it('accepts full version strings', () => {
    expect(hash(base, 'v1.17.17')).toBe(hash(base, '1.17'));
  });

  it('keeps int64 values beyond 2^53 exact', () => {
    const text = `{"name":"a","securityContext":{"runAsUser":9223372036854775807}}`;
    const e10 = hashEngine('1.10');
    expect(e10.hashInput(e10.decode(parseJson(text)))).toContain('RunAsUser:(*int64)9223372036854775807 ');
    const e17 = hashEngine('1.17');
    expect(e17.hashInput(e17.decode(parseJson(text)))).toBe(
      `([]uint8)[${[...Buffer.from('{"name":"a","resources":{},"securityContext":{"runAsUser":9223372036854775807}}')].join(' ')}]`,
    );
    // one more than int64 max is refused as Go's decoder refuses it
    expect(() => hash(text.replace('807', '808'), '1.17')).toThrow('securityContext.runAsUser: expected integer, found number 9223372036854775808');
  });

  it('matches keys case-insensitively after an exact match, as encoding/json does', () => {
    expect(hash({ ...base, WorkingDir: '/srv' }, '1.12')).toBe(hash({ ...base, workingDir: '/srv' }, '1.12'));
  });

  it('treats [] and {} as absent for apiserver pods, but not for static pod files (1.10-1.15)', () => {
    const empty = { ...base, args: [], resources: { limits: {} } };
    expect(hash(empty, '1.14')).toBe(hash(base, '1.14'));
    expect(hash(empty, '1.14', 'file')).not.toBe(hash(base, '1.14', 'file'));
    // From 1.16 omitempty drops both forms from the JSON
    expect(hash(empty, '1.17', 'file')).toBe(hash(base, '1.17', 'file'));
  });

  it('escapes HTML characters and U+2028 in the JSON it hashes, as Go does', () => {
    const e = hashEngine('1.20');
    const input = e.hashInput(e.decode(parseJson('{"name":"a","args":["<&>\\u2028"]}')));
    const bytes = input.slice('([]uint8)['.length, -1).split(' ').map(Number);
    expect(Buffer.from(bytes).toString()).toBe('{"name":"a","args":["\\u003c\\u0026\\u003e\\u2028"],"resources":{}}');
  });

  it('writes \\b as \\u0008 before Go 1.22 (Kubernetes < 1.30) and as \\b after', () => {
    const text = '{"name":"a","args":["x\\by"]}';
    const json = (v: string): string => {
      const e = hashEngine(v);
      return Buffer.from(e.hashInput(e.decode(parseJson(text))).slice(10, -1).split(' ').map(Number)).toString();
    };
    expect(json('1.29')).toContain('x\\u0008y');
    expect(json('1.30')).toContain('x\\by');
  });

  it('turns an unpaired surrogate escape into U+FFFD, as Go does', () => {
    expect(hash('{"name":"a","image":"\\ud800x"}', '1.12')).toBe(hash('{"name":"a","image":"\\ufffdx"}', '1.12'));
  });
});

describe('finding containers in Pods and PodLists', () => {
  const pod = (ns: string, name: string) => ({
    kind: 'Pod', metadata: { name, namespace: ns },
    spec: { initContainers: [{ ...base, name: 'init' }], containers: [{ ...base, name: 'main' }, { ...base, name: 'side' }] },
  });

  it('keys every container and init container by namespace/pod/container', () => {
    const list = parseJson(JSON.stringify({ kind: 'List', items: [pod('ns1', 'a'), pod('ns2', 'b')] }));
    const refs = collectContainers(list).map((r) => `${r.pod}/${r.container}${r.init ? ' (init)' : ''}`);
    expect(refs).toEqual(['ns1/a/init (init)', 'ns1/a/main', 'ns1/a/side', 'ns2/b/init (init)', 'ns2/b/main', 'ns2/b/side']);
  });

  it('hashes a PodList, an array of containers and a single container', () => {
    const list = hashAll(parseJson(JSON.stringify({ kind: 'PodList', items: [pod('ns1', 'a')] })), '1.13');
    expect(list).toHaveLength(3);
    expect(list[1]).toEqual({ pod: 'ns1/a', container: 'main', init: false, kubeVersion: '1.13', hash: hash({ ...base, name: 'main' }, '1.13') });
    expect(hashAll(parseJson(JSON.stringify([base, base])), '1.13')).toHaveLength(2);
    expect(hashAll(parseJson(JSON.stringify(base)), '1.13')[0]!.pod).toBeNull();
  });

  it('names the container path when one container is bad', () => {
    const bad = pod('ns1', 'a');
    (bad.spec.containers[1] as Record<string, unknown>).ports = [{ containerPort: 'x' }];
    expect(() => hashAll(parseJson(JSON.stringify({ kind: 'PodList', items: [bad] })), '1.13'))
      .toThrow('items[0].spec.containers[1].ports[0].containerPort: expected integer');
  });

  it('refuses objects that hold no containers', () => {
    expect(() => collectContainers(parseJson('{"kind":"Service","spec":{}}'))).toThrow('kind Service');
  });
});
