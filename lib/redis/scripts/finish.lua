--[[
  finish: record the outcome of a claimed run, atomically: its status and result or error, the
  registries, the job's next attempt when it retries, and the release of jobs that depend on it.
  Only the current claim may finish a run: a worker whose lease expired (the run was requeued
  and claimed again) finishes nothing.

  KEYS[1]  started    ZSET of the run's queue
  KEYS[2]  finished   ZSET run id -> record expiry
  KEYS[3]  failed     ZSET run id -> record expiry
  KEYS[4]  schedule   ZSET (retries go back through it)
  KEYS[5]  the run's record HASH
  KEYS[6]  the job's record HASH: the same key for a one-off job, the recurring job's for its runs
  KEYS[7]  dependents SET of the job, members "<queue>\t<id>"
  then per dependent, in ARGV order: its record HASH, its queue's ready LIST and deferred ZSET
  ARGV[1]  run id      ARGV[2]  now, ms    ARGV[3]  claim token    ARGV[4]  'ok' | 'fail' | 'retry'
  ARGV[5]  result JSON ('ok') or error message
  ARGV[6]  TTL of the record, ms ('ok': resultTtlMs, 'fail': failureTtlMs; 0 = delete now,
           -1 = keep): sets the score of the finished/failed registry
  ARGV[7]  retry at, ms ('retry')     ARGV[8]  ready channel
  ARGV[9]  N, then the N dependents members the caller declared keys for
  ARGV[10 + N]  the error's stack ('fail', 'retry'), kept in the record for operators only
  Returns  1 when recorded; 0 when the claim is no longer the caller's;
           { 'dependents', member, ... } when the dependents changed since the claim (nothing is
           written; call again with these)
]]
local id, now, token, outcome = ARGV[1], tonumber(ARGV[2]), ARGV[3], ARGV[4]
local runKey, jobKey = KEYS[5], KEYS[6]
if redis.call('HGET', runKey, 'k') ~= token then return 0 end

local N = tonumber(ARGV[9])
if outcome ~= 'retry' then
  local actual = redis.call('SMEMBERS', KEYS[7])
  local declared = {}
  for i = 1, N do declared[ARGV[9 + i]] = true end
  local same = #actual == N
  for _, m in ipairs(actual) do if not declared[m] then same = false end end
  if not same then
    table.insert(actual, 1, 'dependents')
    return actual
  end
end

local ttl = tonumber(ARGV[6])
redis.call('ZREM', KEYS[1], id)
redis.call('HDEL', runKey, 'k')

if outcome == 'retry' then
  redis.call('HSET', runKey, 's', 'scheduled', 'e', ARGV[5], 'es', ARGV[10 + N])
  redis.call('ZADD', KEYS[4], ARGV[7], id)
  return 1
end

local function expire(key, registry)
  if ttl == 0 then
    redis.call('DEL', key)
  elseif ttl > 0 then
    redis.call('PEXPIRE', key, ttl)
  else
    redis.call('PERSIST', key)
  end
  if ttl ~= 0 then redis.call('ZADD', registry, ttl > 0 and now + ttl or '+inf', id) end
end

local function dependsOnThis(dependentKey)
  local p = redis.call('HGET', dependentKey, 'p')
  return p and string.find(p, cjson.encode(id), 1, true) ~= nil
end

if outcome == 'ok' then
  redis.call('HSET', runKey, 's', 'finished', 'r', ARGV[5], 'et', now)
  redis.call('HDEL', runKey, 'e', 'es')
  for i = 1, N do
    local member = ARGV[9 + i]
    local dep, ready, deferred = KEYS[7 + (i - 1) * 3 + 1], KEYS[7 + (i - 1) * 3 + 2], KEYS[7 + (i - 1) * 3 + 3]
    if dependsOnThis(dep) then
      local waiting = redis.call('HINCRBY', dep, 'w', -1)
      if waiting <= 0 and redis.call('HGET', dep, 's') == 'deferred' then
        local queue, depId = string.match(member, '^(.-)\t(.*)$')
        redis.call('ZREM', deferred, depId)
        redis.call('HSET', dep, 's', 'queued')
        redis.call('HDEL', dep, 'e')
        if redis.call('HGET', dep, 'f') == '1' then redis.call('LPUSH', ready, depId) else redis.call('RPUSH', ready, depId) end
        redis.call('PUBLISH', ARGV[8], queue .. '\n' .. depId)
      end
    end
  end
  redis.call('DEL', KEYS[7])
  expire(runKey, KEYS[2])
else
  redis.call('HSET', runKey, 's', 'failed', 'e', ARGV[5], 'es', ARGV[10 + N], 'et', now)
  for i = 1, N do
    local dep = KEYS[7 + (i - 1) * 3 + 1]
    if dependsOnThis(dep) then redis.call('HSET', dep, 'e', 'waiting on dependency ' .. id .. ', which failed') end
  end
  expire(runKey, KEYS[3])
end

-- A run of a recurring job: one run fewer is active; an ended schedule's record expires with its last run.
if jobKey ~= runKey and redis.call('EXISTS', jobKey) == 1 then
  local active = redis.call('HINCRBY', jobKey, 'x', -1)
  if active <= 0 and redis.call('HGET', jobKey, 's') == 'finished' and ttl >= 0 then
    if ttl == 0 then redis.call('DEL', jobKey) else redis.call('PEXPIRE', jobKey, ttl) end
  end
end
return 1
