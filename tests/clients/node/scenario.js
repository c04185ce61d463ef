// A fixed scenario for node-redis in RESP3 mode against one server, printed as JSON lines:
// {"part": P, "step": S, "value": V}, one per observation, then {"part": P, "done": true} when
// a part has run to its end. tests/integration/test_clients_node.py runs it against memkv and
// against Debian's redis-server and compares the two outputs.
//
// Usage: node scenario.js PORT PART...
// Parts: connect types pipeline multi watch pubsub notify errors caching.
// The `redis` package is found through NODE_PATH (the test installs it into the build tree from
// package.json and package-lock.json beside this file).
'use strict';

const { once } = require('node:events');
const redis = require('redis');

const { RESP_TYPES } = redis;
const port = Number(process.argv[2]);
const parts = process.argv.slice(3);
// How long to wait for a pub/sub message or an invalidation before failing (not a timing
// assertion: the wait ends as soon as the event arrives).
const EVENT_WAIT_MS = 10000;

function emit(part, step, value) {
    process.stdout.write(JSON.stringify({ part, step, value: tag(value) }) + '\n');
}

// JSON cannot hold every reply type apart: Maps, Sets, non-finite doubles, Buffers and errors
// are written as tagged objects so that a shape memkv got wrong shows in the comparison.
function tag(v) {
    if (v instanceof Map) return { map: [...v.entries()].map(([k, x]) => [tag(k), tag(x)]) };
    if (v instanceof Set) return { set: [...v].map(tag).sort(compareJson) };
    if (Buffer.isBuffer(v)) return { buffer: v.toString('latin1') };
    if (Array.isArray(v)) return v.map(tag);
    if (typeof v === 'number' && !Number.isFinite(v)) return { double: String(v) };
    if (v instanceof Error) return errorInfo(v);
    if (v !== null && typeof v === 'object') {
        const out = {};
        for (const k of Object.keys(v)) out[k] = tag(v[k]);
        return out;
    }
    return v === undefined ? null : v;
}

function compareJson(a, b) {
    const x = JSON.stringify(a), y = JSON.stringify(b);
    return x < y ? -1 : x > y ? 1 : 0;
}

function errorInfo(e) {
    const out = { error: e.constructor.name, message: e.message, reply: e instanceof redis.ErrorReply };
    if (e instanceof redis.MultiErrorReply) {
        out.replies = e.replies.map(tag);
        out.errorIndexes = e.errorIndexes;
    }
    return out;
}

async function caught(promise) {
    try {
        return { ok: tag(await promise) };
    } catch (e) {
        return errorInfo(e);
    }
}

// Resolves when check() is true, re-testing on every poke(); rejects after EVENT_WAIT_MS.
function waiter() {
    let pending = [];
    return {
        poke() {
            pending = pending.filter(({ check, resolve }) => (check() ? (resolve(), false) : true));
        },
        until(what, check) {
            if (check()) return Promise.resolve();
            return new Promise((resolve, reject) => {
                const timer = setTimeout(() => reject(new Error('no ' + what + ' within ' + EVENT_WAIT_MS + ' ms')),
                                         EVENT_WAIT_MS);
                pending.push({ check, resolve: () => { clearTimeout(timer); resolve(); } });
            });
        },
    };
}

async function connect(options = {}) {
    const client = redis.createClient({ socket: { host: '127.0.0.1', port }, RESP: 3, ...options });
    client.on('error', (e) => {
        process.stderr.write('client error: ' + (e && e.stack ? e.stack : e) + '\n');
    });
    await client.connect();
    return client;
}

// The raw RESP3 type of a reply: maps as Map, sets as Set (node-redis's defaults turn them into
// plain objects and arrays, which would hide a flat array sent in place of a map).
function typed(client) {
    return client.withTypeMapping({ [RESP_TYPES.MAP]: Map, [RESP_TYPES.SET]: Set });
}

function infoFields(text) {
    const fields = {};
    for (const line of String(text).split('\r\n')) {
        const i = line.indexOf(':');
        if (i > 0 && !line.startsWith('#')) fields[line.slice(0, i)] = line.slice(i + 1);
    }
    return fields;
}

// CLIENT INFO's line: space-separated name=value fields.
function clientFields(text) {
    const fields = {};
    for (const f of String(text).trim().split(' ')) {
        const i = f.indexOf('=');
        if (i > 0) fields[f.slice(0, i)] = f.slice(i + 1);
    }
    return fields;
}

const PARTS = {
    // The handshake (HELLO 3, CLIENT SETINFO, CLIENT MAINT_NOTIFICATIONS) happened in connect();
    // what the connection looks like after it.
    async connect(c) {
        emit('connect', 'isReady', c.isReady);
        emit('connect', 'ping', await c.ping());
        emit('connect', 'hello', await typed(c).sendCommand(['HELLO']));
        const info = clientFields(await c.sendCommand(['CLIENT', 'INFO']));
        emit('connect', 'client info', { resp: info.resp, name: info.name, db: info.db, flags: info.flags });
        const server = infoFields(await c.info('server'));
        emit('connect', 'info server', {
            version: server.redis_version.split('.').slice(0, 2).join('.'),
            redis_mode: server.redis_mode,
        });
        const all = infoFields(await c.info());
        emit('connect', 'info', { loading: all.loading, role: all.role, connected_slaves: all.connected_slaves });
        emit('connect', 'config get databases', await c.configGet('databases'));
        emit('connect', 'select', await c.select(3));
        emit('connect', 'dbsize in 3', await c.dbSize());
        await c.select(0);
    },

    async types(c) {
        const t = typed(c);
        emit('types', 'set', await c.set('str', 'hello'));
        emit('types', 'get', await c.get('str'));
        emit('types', 'get missing', await c.get('nosuchkey'));
        emit('types', 'set nx existing', await c.set('str', 'x', { NX: true }));
        emit('types', 'incr', await c.incr('counter'));
        emit('types', 'incrby', await c.incrBy('counter', 41));
        emit('types', 'incrbyfloat', await c.incrByFloat('float', 1.5));
        emit('types', 'mget', await c.mGet(['str', 'counter', 'nosuchkey']));
        emit('types', 'hset', await c.hSet('hash', { f1: 'v1', f2: 'v2', f3: '3' }));
        emit('types', 'hgetall', await c.hGetAll('hash'));
        emit('types', 'hgetall typed', await t.hGetAll('hash'));
        emit('types', 'hgetall missing', await t.hGetAll('nosuchkey'));
        emit('types', 'hincrbyfloat', await c.hIncrByFloat('hash', 'f3', 0.25));
        emit('types', 'sadd', await c.sAdd('set', ['b', 'a', 'c', 'a']));
        const members = await c.sMembers('set');
        emit('types', 'smembers', [...members].sort());
        emit('types', 'smembers typed', await t.sMembers('set'));
        emit('types', 'sismember', await c.sIsMember('set', 'a'));
        emit('types', 'zadd', await c.zAdd('zset', [
            { score: 1.5, value: 'one' }, { score: 2, value: 'two' },
            { score: -Infinity, value: 'low' }, { score: Infinity, value: 'high' },
        ]));
        emit('types', 'zrange withscores', await c.zRangeWithScores('zset', 0, -1));
        emit('types', 'zrange withscores raw', await c.sendCommand(['ZRANGE', 'zset', '0', '-1', 'WITHSCORES']));
        emit('types', 'zscore', await c.zScore('zset', 'one'));
        emit('types', 'zscore missing', await c.zScore('zset', 'nobody'));
        emit('types', 'zincrby', await c.zIncrBy('zset', 0.25, 'two'));
        emit('types', 'zpopmin', await c.zPopMin('zset'));
        emit('types', 'lpush', await c.lPush('list', ['a', 'b', 'c']));
        emit('types', 'lrange', await c.lRange('list', 0, -1));
        emit('types', 'expire', await c.expire('str', 100));
        emit('types', 'ttl', await c.ttl('str'));
        emit('types', 'type', await c.type('hash'));
        emit('types', 'exists', await c.exists(['str', 'hash', 'nosuchkey']));
        emit('types', 'del', await c.del(['str', 'hash', 'set', 'zset', 'list', 'counter', 'float']));
    },

    // A pipeline is a batch without MULTI: execAsPipeline, and node-redis's automatic pipelining
    // of commands issued in the same tick.
    async pipeline(c) {
        emit('pipeline', 'execAsPipeline', await c.multi()
            .set('p', '1').incr('p').get('p').hSet('ph', 'f', 'v').hGetAll('ph').sAdd('ps', 'x')
            .execAsPipeline());
        const incrs = [];
        for (let i = 0; i < 200; i++) incrs.push(c.incr('auto'));
        const got = await Promise.all(incrs);
        emit('pipeline', 'auto-pipelined incrs', { count: got.length, first: got[0], last: got[got.length - 1],
                                                   inOrder: got.every((v, i) => v === i + 1) });
        emit('pipeline', 'mixed batch', await Promise.all([
            c.set('pk', 'v'), c.get('pk'), c.lPush('pl', 'x'), c.get('nosuchkey'), caught(c.incr('pk')),
        ]));
        await c.del(['p', 'ph', 'ps', 'auto', 'pk', 'pl']);
    },

    async multi(c) {
        emit('multi', 'exec', await c.multi().set('m', '1').incr('m').get('m').hSet('mh', 'a', '1')
            .hGetAll('mh').exec());
        await c.set('mstr', 'text');
        emit('multi', 'runtime error in its slot', await caught(
            c.multi().set('m2', 'x').incr('mstr').get('m2').exec()));
        emit('multi', 'queued error aborts', await caught(
            c.multi().set('m3', 'x').addCommand(['SET', 'onlykey']).exec()));
        emit('multi', 'aborted wrote nothing', await c.exists('m3'));
        emit('multi', 'empty exec', await c.multi().exec());
        await c.del(['m', 'mh', 'mstr', 'm2']);
    },

    // WATCH on one connection, a conflicting write from a second: EXEC answers null and node-redis
    // throws WatchError; the retry succeeds.
    async watch(c) {
        const other = await connect();
        await c.set('w', '10');
        emit('watch', 'watch', await c.watch('w'));
        const v = Number(await c.get('w'));
        emit('watch', 'other client writes', await other.set('w', '99'));
        emit('watch', 'exec after conflict', await caught(c.multi().set('w', String(v + 1)).exec()));
        emit('watch', 'value kept', await c.get('w'));
        let attempts = 0;
        for (;;) {
            attempts++;
            await c.watch('w');
            const cur = Number(await c.get('w'));
            if (attempts === 1) await other.incr('w');
            try {
                emit('watch', 'retry exec', await c.multi().set('w', String(cur + 1)).exec());
                break;
            } catch (e) {
                if (!(e instanceof redis.WatchError)) throw e;
                emit('watch', 'retry aborted', errorInfo(e));
            }
        }
        emit('watch', 'attempts', attempts);
        emit('watch', 'final', await c.get('w'));
        await c.watch('w');
        emit('watch', 'unwatch', await c.unwatch());
        await other.set('w', '0');
        emit('watch', 'exec after unwatch', await c.multi().incr('w').exec());
        await c.del('w');
        other.destroy();
    },

    // RESP3 pub/sub: the subscriber keeps running commands while subscribed (RESP3 lifts the
    // subscribed-mode rule), messages arrive as push frames between replies.
    async pubsub(c) {
        const sub = await connect();
        const log = [];
        const w = waiter();
        const listener = (kind, pattern) => (message, channel) => {
            log.push({ kind, pattern, channel, message });
            w.poke();
        };
        await sub.subscribe(['news', 'sport'], listener('message', null));
        await sub.pSubscribe('w*ther', listener('pmessage', 'w*ther'));
        emit('pubsub', 'numsub', await c.pubSubNumSub(['news', 'sport', 'nobody']));
        emit('pubsub', 'numpat', await c.pubSubNumPat());
        emit('pubsub', 'channels', (await c.pubSubChannels()).sort());
        emit('pubsub', 'publish news', await c.publish('news', 'hello'));
        emit('pubsub', 'publish weather', await c.publish('weather', 'rain'));
        emit('pubsub', 'publish sport', await c.publish('sport', 'goal'));
        emit('pubsub', 'publish nobody', await c.publish('nobody', 'x'));
        await w.until('3 messages', () => log.length >= 3);
        emit('pubsub', 'subscriber runs commands', [await sub.ping(), await sub.set('subk', 'v'), await sub.get('subk')]);
        await sub.unsubscribe('news');
        emit('pubsub', 'publish after unsubscribe', await c.publish('news', 'gone'));
        emit('pubsub', 'publish sport again', await c.publish('sport', 'again'));
        await w.until('4 messages', () => log.length >= 4);
        await sub.pUnsubscribe('w*ther');
        await sub.unsubscribe();
        emit('pubsub', 'numsub after', await c.pubSubNumSub(['news', 'sport']));
        emit('pubsub', 'numpat after', await c.pubSubNumPat());
        emit('pubsub', 'messages', log);
        await c.del('subk');
        sub.destroy();
    },

    // Keyspace notifications through CONFIG SET, received by a pattern subscriber; a PUBLISH
    // after the writes marks the end of the stream.
    async notify(c) {
        const before = await c.configGet('notify-keyspace-events');
        emit('notify', 'config get before', before);
        emit('notify', 'config set', await c.configSet('notify-keyspace-events', 'KEA'));
        emit('notify', 'config get', await c.configGet('notify-keyspace-events'));
        const sub = await connect();
        const log = [];
        const w = waiter();
        await sub.pSubscribe('__key*__:*', (message, channel) => { log.push([channel, message]); w.poke(); });
        await sub.subscribe('end', (message, channel) => { log.push([channel, message]); w.poke(); });
        await c.set('nk', '1');
        await c.incr('nk');
        await c.expire('nk', 100);
        await c.hSet('nh', 'f', 'v');
        await c.lPush('nl', 'a');
        await c.rename('nl', 'nl2');
        await c.del(['nk', 'nh', 'nl2']);
        await c.publish('end', 'x');
        await w.until('the end marker', () => log.some(([ch]) => ch === 'end'));
        emit('notify', 'events', log);
        await c.configSet('notify-keyspace-events', before['notify-keyspace-events']);
        sub.destroy();
    },

    // Errors surface as node-redis's ErrorReply (SimpleError) with the server's text.
    async errors(c) {
        await c.set('estr', 'text');
        emit('errors', 'wrongtype hgetall', await caught(c.hGetAll('estr')));
        emit('errors', 'wrongtype lpush', await caught(c.lPush('estr', 'x')));
        emit('errors', 'not an integer', await caught(c.incr('estr')));
        emit('errors', 'wrong arity', await caught(c.sendCommand(['GET'])));
        emit('errors', 'unknown command', await caught(c.sendCommand(['NOSUCHCOMMAND', 'a'])));
        emit('errors', 'syntax', await caught(c.sendCommand(['SET', 'k', 'v', 'BADOPTION'])));
        emit('errors', 'connection still usable', await c.get('estr'));
        await c.del('estr');
    },

    // Client-side caching (CLIENT TRACKING ON with RESP3 invalidation pushes): a cached GET is
    // served from the cache until another client's write invalidates it.
    async caching() {
        const cache = new redis.BasicClientSideCache({ ttl: 0, maxEntries: 0 });
        const c = await connect({ clientSideCache: cache });
        const other = await connect();
        await other.set('ck', 'v1');
        emit('caching', 'first get', await c.get('ck'));
        emit('caching', 'second get', await c.get('ck'));
        let s = cache.stats();
        emit('caching', 'stats after two gets', { hits: s.hitCount, misses: s.missCount });
        const invalidated = once(cache, 'invalidate');
        await other.set('ck', 'v2');
        const timer = setTimeout(() => cache.emit('error', new Error('no invalidation')), EVENT_WAIT_MS);
        const [key] = await Promise.race([invalidated, once(cache, 'error').then(([e]) => { throw e; })]);
        clearTimeout(timer);
        emit('caching', 'invalidated key', key === null ? null : String(key));
        emit('caching', 'get after invalidation', await c.get('ck'));
        s = cache.stats();
        emit('caching', 'stats at the end', { hits: s.hitCount, misses: s.missCount });
        await other.del('ck');
        c.destroy();
        other.destroy();
    },
};

async function main() {
    for (const p of parts) {
        if (!PARTS[p]) throw new Error('unknown part ' + p);
    }
    const c = await connect();
    for (const p of parts) {
        if (p === 'caching') await PARTS[p]();
        else await PARTS[p](c);
        process.stdout.write(JSON.stringify({ part: p, done: true }) + '\n');
    }
    c.destroy();
}

main().then(() => process.exit(0), (e) => {
    process.stderr.write('scenario failed: ' + (e && e.stack ? e.stack : e) + '\n');
    process.exit(1);
});
