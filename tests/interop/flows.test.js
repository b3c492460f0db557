'use strict';
// Flows and deduplication as a worker sees them, as phased differential runs
// (lib/phased.js): Node BullMQ 6.7.0's own Worker and echo_worker must leave
// the same masked Redis state and event sequences; on top, each test checks
// the outcome Node reports.
//
// echo_worker flags used here (lib/echo.js has the same): waitChildren ->
// bullc_job_move_to_waiting_children, returnChildren -> the parent returns
// bullc_job_children_values, returnIgnored -> it returns
// bullc_job_ignored_children_failures.
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { Queue, FlowProducer } = require('bullmq');
const I = require('./lib/interop');
const { differential, finished, hashOf, zmembers } = require('./lib/phased');

async function withFlow(redis, fn) {
  const flow = new FlowProducer({ connection: redis.connection });
  try { return await fn(flow); } finally { await flow.close(); }
}

test('flows: a tree over three queues with a grandchild level; parents read their children values', { timeout: 120000 }, async (t) => {
  const [P, C, G] = ['fl-p', 'fl-c', 'fl-g'];
  const scenario = {
    queues: [P, C, G],
    setup: (ctx) => withFlow(ctx.redis, (flow) => flow.add({
      name: 'root', queueName: P, data: { returnChildren: true }, opts: { jobId: 'root' },
      children: [
        { name: 'a', queueName: P, data: { result: 'A' }, opts: { jobId: 'a' } },
        {
          name: 'b', queueName: C, data: { returnChildren: true }, opts: { jobId: 'b' },
          children: [
            { name: 'g1', queueName: C, data: { result: 1 }, opts: { jobId: 'g1' } },
            { name: 'g2', queueName: G, data: { result: { x: [2, 'two'], s: 'q"\\/' } }, opts: { jobId: 'g2' } },
          ],
        },
        // removed once completed: its value still reaches the parent
        { name: 'c', queueName: C, data: { v: 'c' }, opts: { jobId: 'c', removeOnComplete: true } },
      ],
    })),
    phases: [
      { queue: G, run: (ctx) => ctx.count(G, finished, 1, 'g2 finished') },
      { queue: C, run: (ctx) => ctx.count(C, finished, 3, 'g1, b, c finished') },
      { queue: P, run: (ctx) => ctx.count(P, finished, 2, 'a, root finished') },
    ],
  };
  await differential(t, scenario, async (run, kind) => {
    const b = hashOf(run, `bull:${C}:b`);
    assert.deepEqual(JSON.parse(b.returnvalue),
      { [`bull:${C}:g1`]: 1, [`bull:${G}:g2`]: { x: [2, 'two'], s: 'q"\\/' } }, `${kind}: b's children values`);
    const root = hashOf(run, `bull:${P}:root`);
    const expected = { [`bull:${P}:a`]: 'A', [`bull:${C}:b`]: JSON.parse(b.returnvalue), [`bull:${C}:c`]: { v: 'c' } };
    assert.deepEqual(JSON.parse(root.returnvalue), expected, `${kind}: root's children values`);
    // what the parent returned is what Node's Job.getChildrenValues() reads
    const q = new Queue(P, { connection: run.redis.connection });
    try {
      const job = await q.getJob('root');
      assert.equal(await job.getState(), 'completed');
      assert.deepEqual(await job.getChildrenValues(), expected);
      assert.deepEqual(job.returnvalue, expected);
    } finally { await q.close(); }
  });
});

test('flows: the four failure policies (and none) with a failing child', { timeout: 120000 }, async (t) => {
  const [PP, PC, PZ, PL] = ['fl-pp', 'fl-pc', 'fl-pz', 'fl-pl'];
  const policies = {
    fpof: 'failParentOnFailure', cpof: 'continueParentOnFailure',
    idof: 'ignoreDependencyOnFailure', rdof: 'removeDependencyOnFailure', none: null,
  };
  const scenario = {
    queues: [PP, PC, PZ, PL],
    setup: (ctx) => withFlow(ctx.redis, async (flow) => {
      for (const [short, opt] of Object.entries(policies)) {
        const ignored = short === 'cpof' || short === 'idof';
        await flow.add({
          name: `p-${short}`, queueName: PP,
          data: ignored ? { returnIgnored: true } : { returnChildren: true }, opts: { jobId: `p-${short}` },
          children: [
            { name: `bad-${short}`, queueName: PC, data: { fail: `bad ${short}` }, opts: { jobId: `bad-${short}`, ...(opt ? { [opt]: true } : {}) } },
            { name: `ok-${short}`, queueName: PC, data: { result: short }, opts: { jobId: `ok-${short}` } },
          ],
        });
      }
      // continueParentOnFailure while a sibling (in a queue nobody serves) is
      // still pending: the parent runs, and completing it fails with
      // "pending dependencies".
      // failParentOnFailure over two levels: the leaf fails its parent (mid),
      // which then fails the root when a worker picks it up.
      await flow.add({
        name: 'root2', queueName: PP, data: { returnChildren: true }, opts: { jobId: 'root2' },
        children: [{
          name: 'mid', queueName: PC, data: { result: 'mid' }, opts: { jobId: 'mid', failParentOnFailure: true },
          children: [{ name: 'leaf', queueName: PL, data: { fail: 'leaf broke' }, opts: { jobId: 'leaf', failParentOnFailure: true } }],
        }],
      });
      // parents released to prioritized and to delayed
      await flow.add({
        name: 'p-prio', queueName: PP, data: { returnChildren: true }, opts: { jobId: 'p-prio', priority: 2 },
        children: [{ name: 'ok-prio', queueName: PC, data: { result: 'prio' }, opts: { jobId: 'ok-prio' } }],
      });
      await flow.add({
        name: 'p-delay', queueName: PP, data: { returnChildren: true }, opts: { jobId: 'p-delay', delay: 300 },
        children: [{ name: 'ok-delay', queueName: PC, data: { result: 'delay' }, opts: { jobId: 'ok-delay' } }],
      });
      await flow.add({
        name: 'p-cpof2', queueName: PP, data: { returnIgnored: true }, opts: { jobId: 'p-cpof2' },
        children: [
          { name: 'bad-cpof2', queueName: PC, data: { unrecoverable: 'bad cpof2' }, opts: { jobId: 'bad-cpof2', continueParentOnFailure: true } },
          { name: 'never', queueName: PZ, data: {}, opts: { jobId: 'never' } },
        ],
      });
    }),
    phases: [
      { queue: PL, run: (ctx) => ctx.count(PL, finished, 1, 'leaf finished') },
      { queue: PC, run: (ctx) => ctx.count(PC, finished, 14, '14 children finished') },
      { queue: PP, run: (ctx) => ctx.count(PP, finished, 8, '8 parents finished') },
    ],
  };
  await differential(t, scenario, async (run, kind) => {
    const k = (id) => `bull:${PP}:${id}`;
    const fp = hashOf(run, k('p-fpof'));
    assert.equal(fp.failedReason, `child bull:${PC}:bad-fpof failed`, `${kind}: fpof parent failed by its child`);
    assert.ok(!('defa' in fp), `${kind}: defa removed once failed`);
    assert.deepEqual(zmembers(run, `${k('p-fpof')}:unsuccessful`), [`bull:${PC}:bad-fpof`]);
    assert.ok(zmembers(run, `bull:${PP}:failed`).includes('p-fpof'));

    assert.deepEqual(JSON.parse(hashOf(run, k('p-cpof')).returnvalue), { [`bull:${PC}:bad-cpof`]: 'bad cpof' },
      `${kind}: cpof parent returns the failure it tolerated`);
    assert.deepEqual(JSON.parse(hashOf(run, k('p-idof')).returnvalue), { [`bull:${PC}:bad-idof`]: 'bad idof' },
      `${kind}: idof parent returns the failure it ignored`);
    assert.deepEqual(JSON.parse(hashOf(run, k('p-rdof')).returnvalue), { [`bull:${PC}:ok-rdof`]: 'rdof' },
      `${kind}: rdof parent: the failed child is just gone`);
    assert.ok(!run.raw[`${k('p-rdof')}:failed`], `${kind}: rdof keeps no failure`);
    for (const s of ['cpof', 'idof', 'rdof']) assert.ok(zmembers(run, `bull:${PP}:completed`).includes(`p-${s}`));

    assert.deepEqual(zmembers(run, `bull:${PP}:waiting-children`), ['p-none'], `${kind}: without a policy the parent waits`);
    assert.deepEqual(run.raw[`${k('p-none')}:dependencies`].value, [`bull:${PC}:bad-none`]);

    assert.equal(hashOf(run, `bull:${PC}:mid`).failedReason, `child bull:${PL}:leaf failed`, `${kind}: mid`);
    assert.equal(hashOf(run, k('root2')).failedReason, `child bull:${PC}:mid failed`, `${kind}: root2`);
    assert.deepEqual(JSON.parse(hashOf(run, k('p-prio')).returnvalue), { [`bull:${PC}:ok-prio`]: 'prio' });
    assert.deepEqual(JSON.parse(hashOf(run, k('p-delay')).returnvalue), { [`bull:${PC}:ok-delay`]: 'delay' });
    const c2 = hashOf(run, k('p-cpof2'));
    assert.equal(c2.failedReason, 'Job p-cpof2 has pending dependencies. moveToFinished', `${kind}: cpof2`);
    assert.deepEqual(run.raw[`${k('p-cpof2')}:dependencies`].value, [`bull:${PZ}:never`]);
  });
});

test('flows: a parent that moves itself to waiting-children runs again once its children are done', { timeout: 120000 }, async (t) => {
  const [WP, WC] = ['fl-wp', 'fl-wc'];
  const scenario = {
    queues: [WP, WC],
    setup: async (ctx) => {
      await ctx.add(WP, 'parent', { waitChildren: true, returnChildren: true }, { jobId: 'wparent' });
      await ctx.add(WP, 'lonely', { waitChildren: true, result: 'alone' }, { jobId: 'lonely' });
      await ctx.add(WC, 'k1', { result: 'one' }, { jobId: 'k1', parent: { id: 'wparent', queue: `bull:${WP}` } });
      await ctx.add(WC, 'k2', { result: 2 }, { jobId: 'k2', parent: { id: 'wparent', queue: `bull:${WP}` } });
    },
    phases: [
      {
        queue: WP,
        run: async (ctx) => {
          await ctx.count(WP, (e) => e.event === 'waiting-children' && e.jobId === 'wparent', 1, 'parent moved');
          await ctx.count(WP, finished, 1, 'lonely finished');
        },
      },
      { queue: WC, run: (ctx) => ctx.count(WC, finished, 2, 'children finished') },
      { queue: WP, run: (ctx) => ctx.count(WP, finished, 2, 'parent finished') },
    ],
  };
  await differential(t, scenario, async (run, kind) => {
    const p = hashOf(run, `bull:${WP}:wparent`);
    assert.deepEqual(JSON.parse(p.returnvalue), { [`bull:${WC}:k1`]: 'one', [`bull:${WC}:k2`]: 2 }, `${kind}: values`);
    assert.equal(p.ats, '2', `${kind}: processed twice`);
    assert.equal(p.atm, '1', `${kind}: moving to waiting-children counts no attempt`);
    const evs = await I.readStream(run.client, WP);
    assert.deepEqual(evs.filter((e) => e.jobId === 'wparent').map((e) => `${e.event}/${e.prev || ''}`),
      ['added/', 'waiting/', 'active/waiting', 'waiting-children/active', 'waiting/waiting-children',
        'active/waiting', 'completed/active'], `${kind}: parent's events`);
    const l = hashOf(run, `bull:${WP}:lonely`);
    assert.equal(l.returnvalue, '"alone"', `${kind}: nothing to wait for: the handler went on`);
    assert.equal(l.ats, '1');
  });
});

test('flows: deduplication as a worker sees it: key released on finish, keepLastIfActive next job', { timeout: 120000 }, async (t) => {
  const D = 'fl-dedup';
  const isCompleted = (id) => (e) => e.event === 'completed' && e.jobId === id;
  const scenario = {
    queues: [D],
    setup: (ctx) => ctx.add(D, 'd1', { sleepMs: 800, result: 'first' }, { deduplication: { id: 'k' } }),
    phases: [{
      queue: D,
      run: async (ctx) => {
        await ctx.count(D, (e) => e.event === 'active' && e.jobId === '1', 1, 'd1 active');
        const d2 = await ctx.add(D, 'd2', { result: 'dup' }, { deduplication: { id: 'k' } });
        assert.equal(d2.id, '1', 'd2 deduplicated into d1 while d1 runs');
        await ctx.count(D, isCompleted('1'), 1, 'd1 completed');
        const d3 = await ctx.add(D, 'd3', { result: 'after' }, { deduplication: { id: 'k' } });
        assert.equal(d3.id, '3', 'dedup key released on finish: d3 is a new job');
        await ctx.count(D, isCompleted('3'), 1, 'd3 completed');

        const klia = { id: 'q', keepLastIfActive: true };
        await ctx.add(D, 'e1', { sleepMs: 800, result: 'e1' }, { deduplication: klia });
        await ctx.count(D, (e) => e.event === 'active' && e.jobId === '4', 1, 'e1 active');
        await ctx.add(D, 'e2', { result: 'e2' }, { deduplication: klia });
        await ctx.add(D, 'e3', { result: 'e3' }, { deduplication: klia });
        await ctx.count(D, (e) => e.event === 'completed', 4, 'e1 and its next job completed');
      },
    }],
  };
  await differential(t, scenario, async (run, kind) => {
    const evs = await I.readStream(run.client, D);
    const done = evs.filter((e) => e.event === 'completed').map((e) => [e.jobId, JSON.parse(e.returnvalue)]);
    assert.equal(done.length, 4, `${kind}: four jobs ran`);
    assert.deepEqual(done.slice(0, 3), [['1', 'first'], ['3', 'after'], ['4', 'e1']], `${kind}: order`);
    assert.equal(done[3][1], 'e3', `${kind}: the next job is the last one added while e1 was active`);
    assert.ok(!run.raw[`bull:${D}:de:k`], `${kind}: de:k released`);
    assert.ok(!run.raw[`bull:${D}:dn:q`], `${kind}: dn:q consumed`);
  });
});

test('flows: children values from Redis are checked; no children gives {}', { timeout: 60000 }, async (t) => {
  I.requireEchoWorker();
  const Q = 'fl-bad';
  const redis = await I.useRedis(t);
  const client = I.useClient(t, redis);
  const queue = I.useQueue(t, redis, Q);
  const ev = await I.useEvents(t, redis, Q);
  const parent = await queue.add('parent', { returnChildren: true }, { jobId: 'bad-parent' });
  await queue.add('ignored', { returnIgnored: true }, { jobId: 'bad-ign' });
  // what finished children would have left, one value not JSON
  await client.hset(`bull:${Q}:bad-parent:processed`, `bull:${Q}:k1`, '{"ok":1}', `bull:${Q}:k2`, '{oops');
  await client.hset(`bull:${Q}:bad-ign:failed`, `bull:${Q}:k3`, 'plain "reason"\n');
  const lonely = await queue.add('lonely', { returnChildren: true });
  const w = I.useWorker(t, redis, Q, ['--concurrency', '1']);
  await ev.waitFor('failed', parent.id);
  await ev.waitFor('completed', 'bad-ign');
  await ev.waitFor('completed', lonely.id);
  // a clear failure, not a crash: ours says "invalid JSON", Node's JSON.parse names JSON too
  const bad = await queue.getJob(parent.id);
  assert.equal(await bad.getState(), 'failed');
  assert.match(bad.failedReason, /JSON/);
  const ign = await queue.getJob('bad-ign');
  assert.deepEqual(ign.returnvalue, { [`bull:${Q}:k3`]: 'plain "reason"\n' });
  assert.deepEqual(ign.returnvalue, await ign.getIgnoredChildrenFailures());
  const l = await I.assertCompleted(queue, lonely.id, {});
  assert.deepEqual(await l.getChildrenValues(), {}, 'what Node reads for a job without children');
  const r = await I.stopWorker(w);
  assert.deepEqual(r, { code: 0, signal: null }, `exit; stderr:\n${I.tail(w)}`);
});
