/**
 * The review store's Lua scripts. Each runs atomically in Redis, which is what makes a claim
 * exclusive (two reviewers never hold one item) and a lease expiry exact. Times come from Redis
 * (TIME), so that console replicas with skewed clocks agree on who holds what.
 *
 * Every script gets KEYS[1] = `<base>:claims` (it routes the call to the base's Redis Cluster slot)
 * and ARGV[1] = base, ARGV[2] = the events stream's approximate maximum length.
 */

const PRELUDE = `
local base = ARGV[1]
local evMax = ARGV[2]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local claimsk = base .. ':claims'
local function ik(id) return base .. ':item:' .. id end
local function hk(id) return base .. ':item:' .. id .. ':log' end
local function lanek(l) return base .. ':lane:' .. l end
local function uck(u) return base .. ':user:' .. u .. ':claims' end
local function num(x) return tonumber(x or '0') or 0 end
local function history(id, entry) entry.at = now; redis.call('RPUSH', hk(id), cjson.encode(entry)) end
local function event(typ, id, lane, kind, by, decisionId)
  local args = { 'XADD', base .. ':events', 'MAXLEN', '~', evMax, '*', 'type', typ, 'jobId', id, 'lane', lane or '', 'kind', kind or '', 'at', tostring(now) }
  if by then args[#args + 1] = 'by'; args[#args + 1] = by end
  if decisionId then args[#args + 1] = 'decisionId'; args[#args + 1] = decisionId end
  redis.call(unpack(args))
end
local CLAIM_FIELDS = { 'cu', 'ct', 'cx', 'cs', 'cc', 'rv' }
local function dropClaim(h) redis.call('HDEL', h, unpack(CLAIM_FIELDS)) end
-- Expired tokens are remembered (the last few), so that a late decision hears "expired", not "not yours".
local function rememberExpired(h, token)
  local xt = redis.call('HGET', h, 'xt') or ''
  xt = xt .. ' ' .. token .. ' '
  if #xt > 400 then xt = string.sub(xt, -400) end
  redis.call('HSET', h, 'xt', xt)
end
-- A held item goes back: to its lane at its place (oldest first), or to decided for a reversal claim.
local function unclaim(id, h, user, lane, enq, reversal)
  if reversal == '1' then
    redis.call('HSET', h, 'state', 'decided')
  else
    redis.call('HSET', h, 'state', 'pending')
    redis.call('ZADD', lanek(lane), enq, id)
  end
  dropClaim(h)
  redis.call('ZREM', claimsk, id)
  redis.call('SREM', uck(user), id)
end
local function expire(id)
  local h = ik(id)
  local f = redis.call('HMGET', h, 'state', 'cx', 'cc', 'cu', 'ct', 'lane', 'enq', 'kind', 'rv')
  if f[1] ~= 'claimed' then redis.call('ZREM', claimsk, id); return false end
  local until_ = math.max(num(f[2]), num(f[3]))
  if until_ > now then redis.call('ZADD', claimsk, until_, id); return false end
  rememberExpired(h, f[5])
  unclaim(id, h, f[4], f[6], f[7], f[9])
  history(id, { t = 'expired', by = f[4] })
  event('expired', id, f[6], f[8], f[4])
  return true
end
local function reap(limit)
  local ids = redis.call('ZRANGEBYSCORE', claimsk, '-inf', now, 'LIMIT', 0, limit)
  local n = 0
  for _, id in ipairs(ids) do if expire(id) then n = n + 1 end end
  return n
end
-- 'OK' when user holds id with token and the lease runs; otherwise the reason it does not.
local function holder(id, user, token)
  local h = ik(id)
  if redis.call('EXISTS', h) == 0 then return 'ITEM_NOT_FOUND' end
  local f = redis.call('HMGET', h, 'state', 'cu', 'ct', 'cx', 'cc', 'xt')
  if f[1] == 'claimed' and f[3] == token and f[2] == user then
    if math.max(num(f[4]), num(f[5])) <= now then expire(id); return 'CLAIM_EXPIRED' end
    return 'OK'
  end
  if f[6] and string.find(f[6], ' ' .. token .. ' ', 1, true) then return 'CLAIM_EXPIRED' end
  return 'CLAIM_NOT_HELD'
end
`;

/** ARGV[3..]: id, verdict, kind, lane, enq, bucket, key, sha, finalState, keyIndex, retainS, outcome. 1 = new, 0 = known. */
export const INGEST = `${PRELUDE}
local id, verdict, kind, lane, enq = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local bucket, key, sha, final, keyIndex, retain, outcome = ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14]
local h = ik(id)
if redis.call('EXISTS', h) == 1 then return 0 end
redis.call('HSET', h, 'v', verdict, 'kind', kind, 'state', 'pending', 'lane', lane, 'enq', enq, 'round', 0,
  'bucket', bucket, 'key', key, 'sha', sha, 'outcome', outcome)
redis.call('ZADD', lanek(lane), enq, id)
history(id, { t = 'queued', kind = kind })
redis.call('SET', base .. ':final:' .. id, final, 'EX', retain, 'NX')
redis.call('SADD', base .. ':idx:key:' .. keyIndex, id)
redis.call('EXPIRE', base .. ':idx:key:' .. keyIndex, retain)
if sha ~= '' then
  redis.call('SADD', base .. ':idx:sha:' .. sha, id)
  redis.call('EXPIRE', base .. ':idx:sha:' .. sha, retain)
end
event('queued', id, lane, kind)
return 1
`;

/**
 * ARGV[3..]: user, lane, want, ttlMs, tokenPrefix. Returns the user's claims in `lane`, topped up to
 * `want` with the oldest pending items not skipped by the user, as a flat [id, token, expiresAt, …].
 */
export const CLAIM = `${PRELUDE}
local user, lane, want, ttl, prefix = ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
reap(200)
local mine = uck(user)
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', mine)) do
  local f = redis.call('HMGET', ik(id), 'state', 'cu', 'ct', 'cx', 'lane', 'rv')
  if f[1] == 'claimed' and f[2] == user then
    if f[5] == lane and f[6] ~= '1' then
      out[#out + 1] = id; out[#out + 1] = f[3]; out[#out + 1] = f[4]
    end
  else
    redis.call('SREM', mine, id)
  end
end
local need = want - #out / 3
if need > 0 then
  local skips = base .. ':user:' .. user .. ':skips'
  redis.call('ZREMRANGEBYSCORE', skips, '-inf', now)
  local lk = lanek(lane)
  local passed, seq = 0, 0
  while need > 0 do
    local ids = redis.call('ZRANGE', lk, passed, passed + need + 19)
    if #ids == 0 then break end
    for _, id in ipairs(ids) do
      if need <= 0 then break end
      local h = ik(id)
      if redis.call('ZSCORE', skips, id) then
        passed = passed + 1
      elseif redis.call('EXISTS', h) == 0 then
        redis.call('ZREM', lk, id)
      else
        seq = seq + 1
        local token = prefix .. seq
        local exp = now + ttl
        redis.call('ZREM', lk, id)
        redis.call('HSET', h, 'state', 'claimed', 'cu', user, 'ct', token, 'cx', exp, 'cs', now)
        redis.call('ZADD', claimsk, exp, id)
        redis.call('SADD', mine, id)
        history(id, { t = 'claimed', by = user })
        event('claimed', id, lane, redis.call('HGET', h, 'kind'), user)
        out[#out + 1] = id; out[#out + 1] = token; out[#out + 1] = exp
        need = need - 1
      end
    end
  end
end
return out
`;

/** ARGV[3..]: user, ttlMs. Extends every running lease of the user; returns [id, expiresAt, …]. */
export const EXTEND = `${PRELUDE}
local user, ttl = ARGV[3], tonumber(ARGV[4])
local out = {}
for _, id in ipairs(redis.call('SMEMBERS', uck(user))) do
  local h = ik(id)
  local f = redis.call('HMGET', h, 'state', 'cu', 'cx')
  if f[1] == 'claimed' and f[2] == user and num(f[3]) > now then
    local exp = now + ttl
    redis.call('HSET', h, 'cx', exp)
    redis.call('ZADD', claimsk, exp, id)
    out[#out + 1] = id; out[#out + 1] = exp
  end
end
return out
`;

/** ARGV[3..]: user, id, token, mode (release|skip), skipMs. Returns OK or why not. */
export const RELEASE = `${PRELUDE}
local user, id, token, mode, skipMs = ARGV[3], ARGV[4], ARGV[5], ARGV[6], tonumber(ARGV[7])
local st = holder(id, user, token)
if st ~= 'OK' then return st end
local h = ik(id)
local f = redis.call('HMGET', h, 'lane', 'enq', 'kind', 'rv')
unclaim(id, h, user, f[1], f[2], f[4])
if mode == 'skip' and skipMs > 0 then
  local skips = base .. ':user:' .. user .. ':skips'
  redis.call('ZADD', skips, now + skipMs, id)
  redis.call('PEXPIRE', skips, skipMs)
end
local typ = mode == 'skip' and 'skipped' or 'released'
history(id, { t = typ, by = user })
event(typ, id, f[1], f[3], user)
return 'OK'
`;

/** ARGV[3..]: user, id, token, escalation JSON. Moves a held item to the leads' lane. */
export const ESCALATE = `${PRELUDE}
local user, id, token, esc = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local st = holder(id, user, token)
if st ~= 'OK' then return st end
local h = ik(id)
local f = redis.call('HMGET', h, 'enq', 'kind', 'rv')
if f[3] == '1' then return 'DECISION_INVALID' end
redis.call('HSET', h, 'state', 'pending', 'lane', 'escalated', 'esc', esc)
redis.call('ZADD', lanek('escalated'), f[1], id)
dropClaim(h)
redis.call('ZREM', claimsk, id)
redis.call('SREM', uck(user), id)
history(id, { t = 'escalated', by = user, note = cjson.decode(esc).note })
event('escalated', id, 'escalated', f[2], user)
return 'OK'
`;

/**
 * ARGV[3..]: user, id, token, guardMs. Checks the claim and guards it against expiry for guardMs
 * while the decision is written to the log. Returns ['BEGIN', now, field, value, …] (the item),
 * ['DONE', lastDecision] when this claim already decided (a retried submit), or [reason].
 */
export const BEGIN_DECISION = `${PRELUDE}
local user, id, token, guardMs = ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local h = ik(id)
if redis.call('EXISTS', h) == 1 and redis.call('HGET', h, 'dt') == token then
  return { 'DONE', redis.call('HGET', h, 'last') }
end
local st = holder(id, user, token)
if st ~= 'OK' then return { st } end
local guard = now + guardMs
redis.call('HSET', h, 'cc', guard)
redis.call('ZADD', claimsk, math.max(num(redis.call('HGET', h, 'cx')), guard), id)
local out = { 'BEGIN', tostring(now) }
local all = redis.call('HGETALL', h)
for i = 1, #all do out[#out + 1] = all[i] end
return out
`;

/** ARGV[3..]: user, id, token. Ends the guard of a decision that could not be logged. */
export const ABORT_DECISION = `${PRELUDE}
local user, id, token = ARGV[3], ARGV[4], ARGV[5]
local h = ik(id)
if redis.call('HGET', h, 'ct') == token and redis.call('HGET', h, 'cu') == user then
  redis.call('HDEL', h, 'cc')
  redis.call('ZADD', claimsk, num(redis.call('HGET', h, 'cx')), id)
end
return 'OK'
`;

/**
 * ARGV[3..]: user, id, token, decision JSON, summary JSON, final-state JSON, decisionId, outcome,
 * round, retainS, sha, outboxKey. Records a logged decision: the item is decided, the decision is
 * put in the outbox for the decisions queue, the final state is written for getDecision.
 */
export const COMMIT_DECISION = `${PRELUDE}
local user, id, token, decision, summary, final = ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local decisionId, outcome, round, retain, sha, outbox = ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14]
local h = ik(id)
local f = redis.call('HMGET', h, 'state', 'ct', 'cu', 'kind', 'lane')
if f[1] ~= 'claimed' or f[2] ~= token or f[3] ~= user then return 'CLAIM_NOT_HELD' end
redis.call('HSET', h, 'state', 'decided', 'lane', '', 'round', round, 'last', summary, 'dt', token, 'outcome', outcome)
dropClaim(h)
redis.call('HDEL', h, 'esc', 'appeal')
redis.call('ZREM', claimsk, id)
redis.call('SREM', uck(user), id)
redis.call('ZADD', base .. ':decided', now, id)
redis.call('HSET', outbox, decisionId, decision)
redis.call('SET', base .. ':final:' .. id, final, 'EX', retain)
if sha ~= '' then
  local sk = base .. ':sha:' .. sha
  redis.call('LPUSH', sk, summary)
  redis.call('LTRIM', sk, 0, 19)
  redis.call('EXPIRE', sk, retain)
end
history(id, { t = 'decided', by = user, outcome = outcome, decisionId = decisionId })
redis.call('EXPIRE', h, retain)
redis.call('EXPIRE', hk(id), retain)
event('decided', id, f[5], f[4], user, decisionId)
return 'OK'
`;

/**
 * ARGV[3..]: id, appeal JSON, round, final-state JSON (pending), retainS, and for an image never
 * reviewed: verdict, kind, bucket, key, sha, outcome, keyIndex. Returns REOPENED, NOTED (already
 * pending: the appeal is attached), STALE (it contests an older round) or ITEM_NOT_FOUND.
 */
export const APPEAL = `${PRELUDE}
local id, appeal, round, final, retain = ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
local verdict, kind, bucket, key, sha, outcome, keyIndex = ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14]
local h = ik(id)
if redis.call('EXISTS', h) == 0 then
  if verdict == '' then return 'ITEM_NOT_FOUND' end
  redis.call('HSET', h, 'v', verdict, 'kind', kind, 'state', 'decided', 'lane', '', 'enq', now, 'round', 0,
    'bucket', bucket, 'key', key, 'sha', sha, 'outcome', outcome)
  redis.call('SADD', base .. ':idx:key:' .. keyIndex, id)
  redis.call('EXPIRE', base .. ':idx:key:' .. keyIndex, retain)
  if sha ~= '' then redis.call('SADD', base .. ':idx:sha:' .. sha, id); redis.call('EXPIRE', base .. ':idx:sha:' .. sha, retain) end
end
local f = redis.call('HMGET', h, 'state', 'round', 'kind')
if num(f[2]) ~= round then
  history(id, { t = 'appeal-stale', reason = cjson.decode(appeal).reason })
  return 'STALE'
end
if f[1] ~= 'decided' then
  redis.call('HSET', h, 'appeal', appeal)
  history(id, { t = 'appealed', reason = cjson.decode(appeal).reason, reopened = false })
  return 'NOTED'
end
redis.call('HSET', h, 'state', 'pending', 'lane', 'decide', 'enq', now, 'appeal', appeal)
redis.call('ZADD', lanek('decide'), now, id)
redis.call('ZREM', base .. ':decided', id)
redis.call('PERSIST', h)
redis.call('PERSIST', hk(id))
redis.call('SET', base .. ':final:' .. id, final, 'EX', retain)
history(id, { t = 'appealed', reason = cjson.decode(appeal).reason, reopened = true })
event('appealed', id, 'decide', f[3])
return 'REOPENED'
`;

/** ARGV[3..]: lead, id, ttlMs, token. Claims a decided item so that a lead may reverse its decision. */
export const CLAIM_REVERSAL = `${PRELUDE}
local user, id, ttl, token = ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local h = ik(id)
if redis.call('EXISTS', h) == 0 then return { 'ITEM_NOT_FOUND' } end
reap(50)
local st = redis.call('HGET', h, 'state')
if st == 'claimed' and redis.call('HGET', h, 'cu') == user and redis.call('HGET', h, 'rv') == '1' then
  return { 'OK', redis.call('HGET', h, 'ct'), redis.call('HGET', h, 'cx') }
end
if st ~= 'decided' then return { 'CLAIM_NOT_HELD' } end
local exp = now + ttl
redis.call('HSET', h, 'state', 'claimed', 'cu', user, 'ct', token, 'cx', exp, 'cs', now, 'rv', '1')
redis.call('ZADD', claimsk, exp, id)
redis.call('SADD', uck(user), id)
history(id, { t = 'claimed', by = user, reversal = true })
event('claimed', id, '', redis.call('HGET', h, 'kind'), user)
return { 'OK', token, tostring(exp) }
`;

/** Expires lapsed leases now; returns how many went back. */
export const REAP = `${PRELUDE}
return reap(tonumber(ARGV[3]))
`;

/** ARGV[3..]: id, by. Removes an item and everything indexed under it; returns [bucket, key, sha] or {}. */
export const DELETE_ITEM = `${PRELUDE}
local id, by = ARGV[3], ARGV[4]
local h = ik(id)
if redis.call('EXISTS', h) == 0 then return {} end
local f = redis.call('HMGET', h, 'bucket', 'key', 'sha', 'cu', 'lane', 'kind')
for _, l in ipairs({ 'decide', 'audit', 'escalated' }) do redis.call('ZREM', lanek(l), id) end
redis.call('ZREM', claimsk, id)
redis.call('ZREM', base .. ':decided', id)
if f[4] then redis.call('SREM', uck(f[4]), id) end
if f[3] and f[3] ~= '' then
  redis.call('DEL', base .. ':sha:' .. f[3])
  redis.call('SREM', base .. ':idx:sha:' .. f[3], id)
end
redis.call('DEL', h, hk(id), base .. ':final:' .. id)
event('deleted', id, f[5], f[6], by)
return { f[1] or '', f[2] or '', f[3] or '' }
`;
