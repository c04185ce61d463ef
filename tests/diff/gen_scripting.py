"""Scripting for the differential test: EVAL EVALSHA EVAL_RO EVALSHA_RO SCRIPT.

Scripts come from a pool of deterministic ones (no math.random, no unordered replies): reads
and writes through redis.call and redis.pcall on the keys the generator draws, the conversion
rules (numbers, booleans, ok/err tables, nested arrays), errors raised inside scripts, compile
errors, shebang flags and the read-only variants. EVALSHA names pool scripts (loaded or not),
unknown and malformed digests; SCRIPT LOAD / EXISTS / FLUSH [ASYNC|SYNC] / KILL (NOTBUSY) /
HELP / DEBUG NO and bad subcommands.

FUNCTION, FCALL and FCALL_RO are memkv's refusal (Redis Functions are not implemented, see the
README): only "both answer" is checked.
"""
import hashlib

KEYS = [b"k0", b"k1", b"k2", b"k3", b"", b"\x00b\xffin"]

SCRIPTS = [
    b"return redis.call('GET', KEYS[1])",
    b"return redis.call('SET', KEYS[1], ARGV[1] or 'v')",
    b"return redis.call('INCR', KEYS[1])",
    b"return redis.pcall('INCR', KEYS[1])",
    b"return redis.call('INCRBY', KEYS[1], ARGV[1] or 1)",
    b"redis.call('DEL', KEYS[1]) return redis.call('EXISTS', KEYS[1])",
    b"return {KEYS[1], ARGV[1], #KEYS, #ARGV}",
    b"return redis.call('LPUSH', KEYS[1], ARGV[1] or 'e')",
    b"return redis.call('RPOP', KEYS[1])",
    b"return redis.call('HSET', KEYS[1], 'f', ARGV[1] or 'v')",
    b"return redis.call('HGET', KEYS[1], 'f')",
    b"return redis.call('TYPE', KEYS[1])",
    b"return redis.call('ZADD', KEYS[1], 1, ARGV[1] or 'm')",
    b"return redis.call('ZSCORE', KEYS[1], ARGV[1] or 'm')",
    b"return redis.call('EXPIRE', KEYS[1], 100)",
    b"return redis.call('TTL', KEYS[1])",
    b"local v = redis.call('GET', KEYS[1]) if v then return #v end return -1",
    b"return {1, 2.5, -3.9, 'x', false, true, {ok='fine'}, {err='bad thing'}, nil, 7}",
    b"return {err='custom error'}",
    b"return redis.error_reply('MY err')",
    b"return redis.status_reply('DONE')",
    b"return {double=1.5}",
    b"error('boom')",
    b"return notdefined",
    b"x = 1",
    b"return tonumber(ARGV[1]) or 'nan'",
    b"return redis.call('nosuch')",
    b"return redis.call('GET')",
    b"return 1 +",
    b"return redis.sha1hex(ARGV[1] or '')",
    b"return cjson.encode({a=ARGV[1] or 'x'})",
    b"return bit.band(tonumber(ARGV[1]) or 6, 3)",
    b"redis.setresp(3) return redis.call('ZSCORE', KEYS[1], 'm')",
    b"redis.setresp(3) return redis.call('GET', KEYS[1])",
    b"return redis.call('BLMPOP', '0.01', 1, KEYS[1], 'LEFT')",
    b"return redis.call('SUBSCRIBE', 'ch')",
    b"return redis.call('MULTI')",
    b"return redis.call('SELECT', 1)",
    b"local ok, err = pcall(redis.call, 'INCR', KEYS[1]) return {ok and 1 or 0, err}",
    b"#!lua flags=no-writes\nreturn redis.call('GET', KEYS[1])",
    b"#!lua flags=no-writes\nreturn redis.call('SET', KEYS[1], 'x')",
    b"#!lua\nreturn redis.call('SET', KEYS[1], 'shebang')",
    b"#!lua flags=allow-oom\nreturn redis.call('APPEND', KEYS[1], 'a')",
    b"#!lua flags=bogus\nreturn 1",
    b"#!lua name=lib\nreturn 1",
]
SHAS = [hashlib.sha1(s).hexdigest().encode() for s in SCRIPTS]

# Scripts whose reply is a remaining time: compared within a tolerance (difftest.rule), as a
# TTL outside a script. A key's TTL in seconds is rounded, so "EXPIRE k 100" then this script
# half a second later answers 100 in one server and 99 in the other when the two run it a few
# milliseconds apart.
NEAR = {b"return redis.call('TTL', KEYS[1])": 1}
NEAR_SHAS = {hashlib.sha1(s).hexdigest().encode(): tol for s, tol in NEAR.items()}


def _pick(rng, seq):
    return seq[rng.randrange(len(seq))]


def _keys_and_args(rng):
    n = rng.choice([1, 1, 1, 0, 2])
    keys = [_pick(rng, KEYS) for _ in range(n)]
    args = [_pick(rng, [b"1", b"10", b"x", b"-5", b"3.7", b""]) for _ in range(rng.choice([0, 1, 1, 2]))]
    numkeys = b"%d" % n
    r = rng.random()
    if r < 0.03:
        numkeys = _pick(rng, [b"-1", b"x", b"99", b"1.5"])
    return [numkeys] + keys + args


def _eval(rng, name):
    return [name, _pick(rng, SCRIPTS)] + _keys_and_args(rng)


def _sha(rng):
    r = rng.random()
    if r < 0.8:
        return _pick(rng, SHAS)
    if r < 0.9:
        return _pick(rng, SHAS).upper()
    return _pick(rng, [b"0" * 40, b"abc", b"", b"f" * 41])


def _evalsha(rng, name):
    return [name, _sha(rng)] + _keys_and_args(rng)


def _script(rng):
    # (no SCRIPT DEBUG: Redis checks "outside a pipeline" first, which this test always is in)
    sub = _pick(rng, [b"LOAD"] * 4 + [b"EXISTS"] * 3 + [b"FLUSH", b"KILL", b"HELP", b"bogus"])
    if sub == b"LOAD":
        return [b"SCRIPT", sub, _pick(rng, SCRIPTS)]
    if sub == b"EXISTS":
        return [b"SCRIPT", sub] + [_sha(rng) for _ in range(rng.choice([1, 1, 2, 3]))]
    if sub == b"FLUSH":
        return [b"SCRIPT", sub] + [_pick(rng, [b"ASYNC", b"SYNC", b"sync", b"bad"])
                                   for _ in range(rng.choice([0, 0, 1, 1, 2]))]
    return [b"SCRIPT", sub]


def _function(rng):
    return _pick(rng, [[b"FUNCTION", b"LIST"], [b"FUNCTION", b"FLUSH"], [b"FCALL", b"f", b"0"],
                       [b"FCALL_RO", b"f", b"0"], [b"FUNCTION", b"bogus"]])


COMMANDS = {
    b"EVAL": (3, lambda r: _eval(r, b"EVAL")),
    b"EVAL_RO": (1, lambda r: _eval(r, b"EVAL_RO")),
    b"EVALSHA": (2, lambda r: _evalsha(r, b"EVALSHA")),
    b"EVALSHA_RO": (0.7, lambda r: _evalsha(r, b"EVALSHA_RO")),
    b"SCRIPT": (1.5, _script),
    b"FUNCTION": (0.2, _function),
}

COVERED = {"eval", "eval_ro", "evalsha", "evalsha_ro", "script", "function", "fcall", "fcall_ro"}

# busy-reply-threshold and its older name: both servers have them.
CONFIG_SET = {
    b"busy-reply-threshold": [b"5000", b"100000", b"-1", b"abc"],
    b"lua-time-limit": [b"5000", b"60000", b"x"],
}
# memkv's own: the EVAL script cache's cap (above the pool's size: Redis 7.0 never evicts, so
# an eviction would be a deliberate difference, tested in test_scripting.py instead).
MEMKV_ONLY_CONFIG = {
    b"lua-script-cache-max": [b"500", b"100", b"0", b"x"],
}
