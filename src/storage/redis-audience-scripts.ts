/**
 * The Lua scripts of the Redis audience (redis-audience.ts). Each runs atomically in Redis, so
 * a check and the write it allows (a seat under the cap, a stream's identity) are one step for
 * every origin. Numbers go back to Redis through `int` (Lua 5.1 would print large ones with an
 * exponent).
 *
 * Keys of one stream incarnation `A` (`{prefix}aud:{recording}:{incarnation}:`):
 * - `A seats`    sorted set: session id -> when an origin last reported it seen, by Redis's clock
 *                 (TIME: origins' clocks may differ), the stream's audience and idle order
 * - `A viewers`  hash: viewer id -> session id (a viewer holds one seat)
 * - `A profiles` hash: profile -> sessions on it (per-profile caps)
 * - `A changed`  sorted set: session id -> revision of its last change
 * - `A gone`     sorted set: session id -> revision it left at (tombstones, the newest kept)
 * - `A meta`     hash: rev, seq (admissions), floor (newest tombstone dropped), segs and bytes
 *                 served, `o:{origin}` each origin's share of those
 * Per session (`{prefix}sess:{id}`): rid, inc, viewer, seq, joined, anon, origin, p (profile),
 * t (target), b (buffer health, absent until measured), tp, seg, bytes, st (stalls), lb (low
 * buffer events), seen, lseq, and `o:{origin}`: that origin's share of seg,bytes,st,lb.
 * Per stream (`{prefix}stream:{id}`): inc, max, dvr, ended.
 */

/**
 * One stream's exchange (AudienceStore.exchange). KEYS: seats, viewers, profiles, changed,
 * gone, meta, stream. ARGV: the request as JSON, session key prefix, handed-out key prefix,
 * key lifetime (ms), tombstones kept, origin id.
 */
export const EXCHANGE_SCRIPT = `
local seats, viewers, profiles, changed, gone, meta, stream =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local req = cjson.decode(ARGV[1])
local S, H, ttl, keep, origin = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local mineField = 'o:' .. origin

local function int(x) return string.format('%d', x) end

-- Idle order and expiry by one clock for every origin: Redis's own.
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
-- No audience stored for this incarnation (Redis restarted empty, or was away past the key
-- lifetime): the origin re-admits what it holds rather than dropping it.
local fresh = redis.call('EXISTS', meta) == 0
if req.live and redis.call('HSETNX', stream, 'inc', req.inc) == 1 then
  redis.call('HSET', stream, 'max', req.max, 'dvr', req.dvr)
end

local function split(text, n)
  local c = {}
  for i = 1, n do c[i] = 0 end
  if text then
    local i = 1
    for part in string.gmatch(text, '[^,]+') do c[i] = tonumber(part); i = i + 1 end
  end
  return c
end

local function bump(sid)
  local rev = redis.call('HINCRBY', meta, 'rev', 1)
  redis.call('ZADD', changed, rev, sid)
end

local function remove(sid)
  if redis.call('ZREM', seats, sid) == 0 then return false end
  local key = S .. sid
  local f = redis.call('HMGET', key, 'viewer', 'p')
  redis.call('ZREM', changed, sid)
  if f[1] and redis.call('HGET', viewers, f[1]) == sid then redis.call('HDEL', viewers, f[1]) end
  if f[2] then redis.call('HINCRBY', profiles, f[2], -1) end
  redis.call('DEL', key)
  redis.call('ZADD', gone, redis.call('HINCRBY', meta, 'rev', 1), sid)
  return true
end

-- 1. What this origin counted: its whole share replaces its previous one (sent twice, counted once).
for _, u in ipairs(req.updates) do
  local sid = u.id
  if redis.call('ZSCORE', seats, sid) then
    local key = S .. sid
    if u.c then
      local old = split(redis.call('HGET', key, mineField), 4)
      local new = split(u.c, 4)
      redis.call('HINCRBY', key, 'seg', int(new[1] - old[1]))
      redis.call('HINCRBY', key, 'bytes', int(new[2] - old[2]))
      redis.call('HINCRBY', key, 'st', int(new[3] - old[3]))
      redis.call('HINCRBY', key, 'lb', int(new[4] - old[4]))
      redis.call('HSET', key, mineField, u.c)
    end
    -- Seen by the origin since its last batch: the idle order takes Redis's time of it (the
    -- shown last request, the origin's, only ever moves forward).
    if u.seen then
      redis.call('ZADD', seats, int(now), sid)
      if u.seen > tonumber(redis.call('HGET', key, 'seen') or 0) then
        redis.call('HSET', key, 'seen', int(u.seen))
      end
    end
    if u.lseq and u.lseq > tonumber(redis.call('HGET', key, 'lseq') or -1) then
      redis.call('HSET', key, 'lseq', int(u.lseq))
    end
    if u.p then
      local current = redis.call('HGET', key, 'p')
      if current ~= u.p then
        if current then redis.call('HINCRBY', profiles, current, -1) end
        redis.call('HINCRBY', profiles, u.p, 1)
        redis.call('HSET', key, 'p', u.p)
      end
    end
    if u.t then redis.call('HSET', key, 't', u.t) end
    if u.b then redis.call('HSET', key, 'b', u.b) end
    if u.tp then redis.call('HSET', key, 'tp', u.tp) end
    redis.call('PEXPIRE', key, ttl)
    bump(sid)
  end
end
if req.served then
  local old = split(redis.call('HGET', meta, mineField), 2)
  local new = split(req.served, 2)
  redis.call('HINCRBY', meta, 'segs', int(new[1] - old[1]))
  redis.call('HINCRBY', meta, 'bytes', int(new[2] - old[2]))
  redis.call('HSET', meta, mineField, req.served)
end

-- 2. Leaves here, then every session idle past the timeout, whoever served it.
for _, sid in ipairs(req.leaves) do remove(sid) end
local expired = {}
if req.idle > 0 then
  local stale = redis.call('ZRANGEBYSCORE', seats, '-inf', '(' .. int(now - req.idle),
    'LIMIT', 0, 1000)
  for _, sid in ipairs(stale) do
    if remove(sid) then expired[#expired + 1] = sid end
  end
end

-- 2b. Sessions this origin still seats after the store lost them: back as they were, unless
-- their viewer holds another seat by now (the cap is not checked: they were admitted).
for _, r in ipairs(req.readmits or {}) do
  local key = S .. r.id
  if not redis.call('ZSCORE', seats, r.id) and redis.call('HEXISTS', viewers, r.viewer) == 0 then
    local seq = redis.call('HINCRBY', meta, 'seq', 1)
    redis.call('DEL', key)
    redis.call('HSET', key, 'rid', req.rid, 'inc', req.inc, 'viewer', r.viewer, 'seq', seq,
      'joined', int(r.joined), 'anon', r.anon and '1' or '0', 'origin', origin, 'p', r.p,
      't', r.t, 'b', r.b, 'tp', r.tp, 'seg', r.c[1], 'bytes', r.c[2], 'st', r.c[3],
      'lb', r.c[4], mineField, table.concat(r.c, ','), 'seen', int(r.seen), 'lseq', r.lseq)
    redis.call('PEXPIRE', key, ttl)
    redis.call('ZADD', seats, int(now), r.id)
    redis.call('HSET', viewers, r.viewer, r.id)
    redis.call('HINCRBY', profiles, r.p, 1)
    bump(r.id)
  end
end

-- 3. A seat: the cap, the viewer's uniqueness and the profile caps checked and taken at once.
local admit = false
local a = req.admit
if a then
  local key = S .. a.id
  if redis.call('ZSCORE', seats, a.id) then
    admit = 'already'
  elseif redis.call('EXISTS', key) == 1 then
    admit = 'unknown'
  elseif redis.call('HEXISTS', viewers, a.viewer) == 1 then
    admit = 'exists'
  elseif redis.call('ZCARD', seats) >= a.max then
    admit = 'full'
  else
    local landing = false
    for _, c in ipairs(a.candidates) do
      if tonumber(redis.call('HGET', profiles, c[1]) or 0) < c[2] then
        landing = c[1]
        break
      end
    end
    if not landing then
      admit = 'profile_full'
    else
      local seq = redis.call('HINCRBY', meta, 'seq', 1)
      redis.call('HSET', key, 'rid', req.rid, 'inc', req.inc, 'viewer', a.viewer, 'seq', seq,
        'joined', int(req.now), 'anon', a.anon and '1' or '0', 'origin', origin, 'p', landing,
        't', landing, 'tp', '0', 'seg', 0, 'bytes', 0, 'st', 0, 'lb', 0,
        'seen', int(req.now), 'lseq', -1)
      redis.call('PEXPIRE', key, ttl)
      redis.call('ZADD', seats, int(now), a.id)
      redis.call('HSET', viewers, a.viewer, a.id)
      redis.call('HINCRBY', profiles, landing, 1)
      redis.call('DEL', H .. a.id)
      bump(a.id)
      admit = 'seated'
    end
  end
end

-- 4. The stream ended here; tombstones beyond the newest \`keep\` go (an origin that far behind
-- reads the whole audience instead); every key lives on while any origin exchanges.
local record = redis.call('HMGET', stream, 'inc', 'ended')
if req.ended and record[1] == req.inc then
  redis.call('HSET', stream, 'ended', int(req.ended))
  record[2] = int(req.ended)
end
local n = redis.call('ZCARD', gone)
if n > keep then
  local cut = redis.call('ZRANGE', gone, n - keep - 1, n - keep - 1, 'WITHSCORES')
  redis.call('HSET', meta, 'floor', cut[2])
  redis.call('ZREMRANGEBYRANK', gone, 0, n - keep - 1)
end
for i = 1, 7 do redis.call('PEXPIRE', KEYS[i], ttl) end

-- 5. Back: every session changed since the origin last looked, and every one gone since.
local rev = tonumber(redis.call('HGET', meta, 'rev') or 0)
local floor = tonumber(redis.call('HGET', meta, 'floor') or 0)
local full = fresh or req.since == 0 or req.since < floor or req.since > rev
local ids
if full then
  ids = redis.call('ZRANGE', changed, 0, -1)
else
  ids = redis.call('ZRANGEBYSCORE', changed, '(' .. int(req.since), '+inf')
end
-- A session seated before the origin looked is listed anyway: it asked for it.
if admit == 'already' then
  local listed = false
  for _, sid in ipairs(ids) do if sid == a.id then listed = true end end
  if not listed then ids[#ids + 1] = a.id end
end
-- So is every session sent back here that is seated (by this origin or one before it).
for _, r in ipairs(req.readmits or {}) do
  if redis.call('ZSCORE', seats, r.id) then
    local listed = false
    for _, sid in ipairs(ids) do if sid == r.id then listed = true end end
    if not listed then ids[#ids + 1] = r.id end
  end
end
local sessions = {}
for i, sid in ipairs(ids) do sessions[i] = {sid, redis.call('HGETALL', S .. sid)} end
local goneIds = {}
if not full then goneIds = redis.call('ZRANGEBYSCORE', gone, '(' .. int(req.since), '+inf') end
local served = redis.call('HMGET', meta, 'segs', 'bytes', mineField)
-- A newer incarnation of the stream means this one is over.
local ended = false
if record[1] == req.inc then ended = record[2] elseif record[1] then ended = int(req.now) end
return cjson.encode({rev, full, admit, sessions, goneIds, expired,
  served[1] or '0', served[2] or '0', served[3] or '', ended, fresh})
`;

/**
 * A stream's identity (AudienceStore.claimStream). KEYS: the stream's record. ARGV: proposed
 * incarnation, max viewers, DVR seconds, '1' when exclusive, key lifetime (ms). Returns the
 * live identity, the proposal now stored, or nil (exclusive, and live elsewhere).
 */
export const CLAIM_SCRIPT = `
local record = redis.call('HMGET', KEYS[1], 'inc', 'max', 'dvr', 'ended')
if record[1] and not record[4] then
  if ARGV[4] == '1' then return false end
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return {record[1], record[2], record[3]}
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'inc', ARGV[1], 'max', ARGV[2], 'dvr', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {ARGV[1], ARGV[2], ARGV[3]}
`;
