/**
 * The list + watch cache's logic over a scripted source: events applied in stream order, a watch
 * that ends or drops is watched again from the last resourceVersion (no list), a 410 Gone (in the
 * stream or as the answer) lists again and the relist reaches handlers as a diff, failures back off.
 */
import { describe, expect, it } from 'vitest';
import { FakeClock } from '../../lib/clock.ts';
import { silentLogger } from '../../lib/logger.ts';
import { Informer, type ListWatch, type WatchStream } from '../../lib/kube/informer.ts';

interface Obj { metadata: { name: string; resourceVersion: string }; v?: number }
const obj = (name: string, rv: number, v = 0): Obj => ({ metadata: { name, resourceVersion: String(rv) }, v });

/** A source whose lists and watches the test answers one by one. */
class Script implements ListWatch<Obj> {
  lists: { items: Obj[]; resourceVersion: string }[] = [];
  watchFrom: string[] = [];
  listed = 0;
  /** Per watch: reject it (error) or open it; the open stream is `current`. */
  refuse: (Error | undefined)[] = [];
  current: { emit: (type: string, o: unknown) => void; end: (e?: Error) => void } | undefined;
  opened: (() => void)[] = [];

  async list(): Promise<{ items: Obj[]; resourceVersion: string }> {
    const l = this.lists[Math.min(this.listed, this.lists.length - 1)]!;
    this.listed++;
    return l;
  }

  async watch(rv: string, onEvent: (type: string, o: unknown) => void): Promise<WatchStream> {
    this.watchFrom.push(rv);
    const refused = this.refuse.shift();
    if (refused) throw refused;
    let end: (e: Error | undefined) => void = () => undefined;
    const ended = new Promise<Error | undefined>((r) => { end = r; });
    this.current = { emit: onEvent, end: (e) => end(e) };
    for (const o of this.opened.splice(0)) o();
    return { stop: () => end(undefined), ended };
  }

  /** Resolves once the next watch is open. */
  nextWatch(): Promise<void> {
    return new Promise((r) => this.opened.push(r));
  }
}

function setup(script: Script, clock = new FakeClock(0)): { inf: Informer<Obj>; seen: string[]; clock: FakeClock } {
  const inf = new Informer<Obj>({ source: script, clock, logger: silentLogger(), what: 'things', backoffMs: 100, maxBackoffMs: 400 });
  const seen: string[] = [];
  inf.on((type, o) => seen.push(`${type} ${o.metadata.name}@${o.metadata.resourceVersion}`));
  return { inf, seen, clock };
}

describe('Informer (list + watch cache)', () => {
  it('lists, then applies watch events in stream order from the list resourceVersion', async () => {
    const script = new Script();
    script.lists = [{ items: [obj('a', 1), obj('b', 2)], resourceVersion: '2' }];
    const { inf, seen } = setup(script);
    const open = script.nextWatch();
    await inf.start();
    await open;
    expect(script.watchFrom).toEqual(['2']);
    expect(inf.live).toBe(true);
    script.current!.emit('MODIFIED', obj('a', 3, 1));
    script.current!.emit('ADDED', obj('c', 4));
    script.current!.emit('DELETED', obj('b', 5));
    script.current!.emit('MODIFIED', obj('a', 6, 2));
    expect(seen).toEqual(['ADDED a@1', 'ADDED b@2', 'MODIFIED a@3', 'ADDED c@4', 'DELETED b@5', 'MODIFIED a@6']);
    expect([...inf.values()].map((o) => `${o.metadata.name}:${o.v}`).sort()).toEqual(['a:2', 'c:0']);
    expect(inf.resourceVersion).toBe('6');
    await inf.stop();
    expect(inf.live).toBe(false);
  });

  it('a watch the server ends is watched again from the last resourceVersion, without a list, losing nothing', async () => {
    const script = new Script();
    script.lists = [{ items: [obj('a', 1)], resourceVersion: '1' }];
    const { inf, seen, clock } = setup(script);
    let open = script.nextWatch();
    await inf.start();
    await open;
    script.current!.emit('MODIFIED', obj('a', 7, 1));
    script.current!.emit('BOOKMARK', { metadata: { resourceVersion: '9' } });
    open = script.nextWatch();
    script.current!.end();
    await open;
    expect(script.watchFrom).toEqual(['1', '9']);
    script.current!.emit('ADDED', obj('b', 10));
    // Dropped with an error (a reset connection): watched again from 10 after a backoff, no list.
    open = script.nextWatch();
    script.current!.end(new Error('socket hang up'));
    await until(() => inf.live === false);
    await tick();
    expect(script.watchFrom.length).toBe(2);
    clock.advance(100);
    await open;
    await until(() => inf.live);
    expect(script.watchFrom).toEqual(['1', '9', '10']);
    expect(script.listed).toBe(1);
    expect(seen).toEqual(['ADDED a@1', 'MODIFIED a@7', 'ADDED b@10']);
    expect(inf.stats).toMatchObject({ lists: 1, watches: 3, gone: 0, dropped: 2 });
    await inf.stop();
  });

  it('410 Gone in the stream lists again and hands the difference to handlers (DELETED for what went away)', async () => {
    const script = new Script();
    script.lists = [
      { items: [obj('a', 1), obj('b', 2)], resourceVersion: '2' },
      { items: [obj('a', 1), obj('c', 20)], resourceVersion: '21' },
    ];
    const { inf, seen } = setup(script);
    let open = script.nextWatch();
    await inf.start();
    await open;
    open = script.nextWatch();
    script.current!.emit('ERROR', { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version: 2' });
    // an event after the ERROR on the same stream is not applied
    script.current!.emit('ADDED', obj('late', 3));
    await open;
    expect(script.listed).toBe(2);
    expect(script.watchFrom).toEqual(['2', '21']);
    expect(seen).toEqual(['ADDED a@1', 'ADDED b@2', 'DELETED b@2', 'ADDED c@20']);
    expect([...inf.values()].map((o) => o.metadata.name).sort()).toEqual(['a', 'c']);
    expect(inf.stats).toMatchObject({ lists: 2, gone: 1 });
    await inf.stop();
  });

  it('a watch refused with 410 lists again; other failures back off (doubling, capped) and retry', async () => {
    const script = new Script();
    script.lists = [{ items: [obj('a', 1)], resourceVersion: '1' }, { items: [obj('a', 5, 1)], resourceVersion: '5' }];
    const refusedGone = Object.assign(new Error('watch nodes: HTTP 410 Gone'), { status: 410 });
    script.refuse = [new Error('connect ECONNREFUSED'), new Error('connect ECONNREFUSED'), refusedGone];
    const clock = new FakeClock(0);
    const { inf, seen } = setup(script, clock);
    const open = script.nextWatch();
    // start() resolves only once a watch is open: here after two refusals and a relist.
    const started = inf.start();
    await until(() => script.watchFrom.length === 1);
    expect(inf.live).toBe(false);
    await tick();
    clock.advance(99);
    await tick();
    expect(script.watchFrom.length).toBe(1);
    clock.advance(1);
    await until(() => script.watchFrom.length === 2);
    clock.advance(199);
    await tick();
    expect(script.watchFrom.length).toBe(2);
    clock.advance(1);
    await open;
    await started;
    expect(script.watchFrom).toEqual(['1', '1', '1', '5']);
    expect(script.listed).toBe(2);
    expect(seen).toEqual(['ADDED a@1', 'MODIFIED a@5']);
    expect(inf.stats).toMatchObject({ gone: 1, lists: 2 });
    await inf.stop();
  });
});

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function until(ok: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ok(); i++) await tick();
  expect(ok()).toBe(true);
}
