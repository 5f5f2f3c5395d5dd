--[[
  finish: record the outcomes of claimed runs of one queue, each atomically: its status and
  result or error, the registries, its next attempt when it retries, and the release of jobs
  that depend on it. Only the current claim may finish a run: a worker whose lease expired (the
  run was requeued and claimed again) finishes nothing.

  KEYS[1]  started    ZSET of the queue
  KEYS[2]  finished   ZSET run id -> record expiry
  KEYS[3]  failed     ZSET run id -> record expiry
  KEYS[4]  schedule   ZSET (retries go back through it)
  then per run, in ARGV order: its record HASH; its job's record HASH (the same key for a one-off
           job, the recurring job's for its runs); the job's dependents SET (members
           "<queue>\t<id>"); then per declared dependent: its record HASH, its queue's ready LIST
           and deferred ZSET
  KEYS[#KEYS]  routes HASH: a retry is marked there, so dispatch reads its record (its queue)
  ARGV[1]  now, ms    ARGV[2]  ready channel    ARGV[3]  M, the number of runs
  then per run: run id, claim token, 'ok' | 'fail' | 'retry', result JSON ('ok') or error
           message, TTL of the record in ms ('ok': resultTtlMs, 'fail': failureTtlMs; 0 = delete
           now, -1 = keep; it sets the finished/failed registry score), retry at in ms ('retry'),
           the error's stack ('fail', 'retry'; kept for operators only), N, then N dependents
           members the caller declared keys for
  Returns  per run: 1 recorded; 0 the claim is no longer the caller's; { 'dependents', member, ... }
           the dependents changed since the claim (nothing written for that run: send it again)
]]
local now, channel = tonumber(ARGV[1]), ARGV[2]
-- Registry writes gather here and go out as one command each, after every run is recorded.
local unstarted, finished, failed = {}, {}, {}

local function expire(key, registry, id, ttl)
  if ttl == 0 then
    redis.call('DEL', key)
  elseif ttl > 0 then
    redis.call('PEXPIRE', key, ttl)
  else
    redis.call('PERSIST', key)
  end
  if ttl ~= 0 then
    registry[#registry + 1] = ttl > 0 and now + ttl or '+inf'
    registry[#registry + 1] = id
  end
end

local function dependsOn(dependentKey, id)
  local p = redis.call('HGET', dependentKey, 'p')
  return p and string.find(p, cjson.encode(id), 1, true) ~= nil
end

-- One run: `a` is its first ARGV index, `k` its first KEYS index.
local function finishOne(a, k, N)
  local id, token, outcome, text, ttl = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], tonumber(ARGV[a + 4])
  local runKey, jobKey, dependents = KEYS[k], KEYS[k + 1], KEYS[k + 2]
  -- The claim is the caller's while the run is started under its token (the token stays in the
  -- record after the run ends; the status tells a stale token apart).
  local rec = redis.call('HMGET', runKey, 'k', 's', 'e')
  if rec[1] ~= token or rec[2] ~= 'started' then return 0 end

  if outcome ~= 'retry' and (N > 0 or redis.call('EXISTS', dependents) == 1) then
    local actual = redis.call('SMEMBERS', dependents)
    local declared = {}
    for i = 1, N do declared[ARGV[a + 7 + i]] = true end
    local same = #actual == N
    for _, m in ipairs(actual) do if not declared[m] then same = false end end
    if not same then
      table.insert(actual, 1, 'dependents')
      return actual
    end
  end

  unstarted[#unstarted + 1] = id
  if outcome == 'retry' then
    -- Back in the schedule: without `s` the record reads as scheduled, then queued (record.ts).
    redis.call('HDEL', runKey, 's')
    redis.call('HSET', runKey, 'e', text, 'es', ARGV[a + 6])
    redis.call('ZADD', KEYS[4], ARGV[a + 5], id)
    redis.call('HSET', KEYS[#KEYS], id, '1')
    return 1
  end

  if outcome == 'ok' then
    redis.call('HSET', runKey, 's', 'finished', 'r', text, 'et', now)
    if rec[3] then redis.call('HDEL', runKey, 'e', 'es') end
    for i = 1, N do
      local member = ARGV[a + 7 + i]
      local dep, ready, deferred = KEYS[k + 3 * i], KEYS[k + 3 * i + 1], KEYS[k + 3 * i + 2]
      if dependsOn(dep, id) then
        local waiting = redis.call('HINCRBY', dep, 'w', -1)
        if waiting <= 0 and redis.call('HGET', dep, 's') == 'deferred' then
          local queue, depId = string.match(member, '^(.-)\t(.*)$')
          redis.call('ZREM', deferred, depId)
          redis.call('HDEL', dep, 's', 'e') -- queued
          if redis.call('HGET', dep, 'f') == '1' then redis.call('LPUSH', ready, depId) else redis.call('RPUSH', ready, depId) end
          redis.call('PUBLISH', channel, queue .. '\n' .. depId)
        end
      end
    end
    if N > 0 then redis.call('DEL', dependents) end
    expire(runKey, finished, id, ttl)
  else
    redis.call('HSET', runKey, 's', 'failed', 'e', text, 'es', ARGV[a + 6], 'et', now)
    for i = 1, N do
      local dep = KEYS[k + 3 * i]
      if dependsOn(dep, id) then redis.call('HSET', dep, 'e', 'waiting on dependency ' .. id .. ', which failed') end
    end
    expire(runKey, failed, id, ttl)
  end

  -- A run of a recurring job: one run fewer is active; an ended schedule's record expires with its last run.
  if jobKey ~= runKey and redis.call('EXISTS', jobKey) == 1 then
    local active = redis.call('HINCRBY', jobKey, 'x', -1)
    if active <= 0 and redis.call('HGET', jobKey, 's') == 'finished' and ttl >= 0 then
      if ttl == 0 then redis.call('DEL', jobKey) else redis.call('PEXPIRE', jobKey, ttl) end
    end
  end
  return 1
end

local results = {}
local a, k = 4, 5
for _ = 1, tonumber(ARGV[3]) do
  local N = tonumber(ARGV[a + 7])
  results[#results + 1] = finishOne(a, k, N)
  a, k = a + 8 + N, k + 3 + 3 * N
end
if #unstarted > 0 then redis.call('ZREM', KEYS[1], unpack(unstarted)) end
if #finished > 0 then redis.call('ZADD', KEYS[2], unpack(finished)) end
if #failed > 0 then redis.call('ZADD', KEYS[3], unpack(failed)) end
return results
