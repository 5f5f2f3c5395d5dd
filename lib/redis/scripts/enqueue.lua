--[[
  enqueue: schedule (create or replace) one or more jobs, atomically, in one round trip.
  Scheduler.enqueueAt / enqueueIn / schedule / cron call it with one job, enqueueMany with many,
  Queue.enqueue with `at` = '' to put a job straight on its ready queue.

  KEYS[1]  schedule   ZSET id -> due ms
  KEYS[2]  queues     SET of queue names
  KEYS[3]  recurring  HASH id -> recurrence JSON
  KEYS[4]  ready      LIST of the queue jobs with `at` = '' go to (Queue.enqueue); unused otherwise
  KEYS[5]  deferred   ZSET of that queue, for such jobs still waiting on a dependency
  then per job: its record HASH, then per dependency: the dependency's record HASH and its
           dependents SET (members "<queue>\t<id>")
  KEYS[#KEYS]  routes HASH: jobs whose dispatch must read their record (see keys.ts)
  ARGV[1]  wake channel: published with the due time when a job becomes the earliest
  ARGV[2]  ready channel: published with "<queue>\n<id>" when a job goes straight to ready
  ARGV[3]  F, the fixed fields per job, then per job F values:
           id, at (ms, or '' = ready now), created (ms), name, data JSON, queue, options JSON or '',
           atFront '1' or '', recurrence JSON or '', D (dependency count)
           followed by the D dependency ids
  Returns  the number of jobs written, or an error reply "DEPENDENCY_NOT_FOUND <dep> <id>" (then
           nothing is written)

  Replacing a job deletes its record first, so no field of the old job survives. A run of the old
  job already in a ready queue is left there: workers do not claim a job that is in the schedule.
  A job with dependencies records `w`, how many of them have not finished; it waits in `deferred`
  until the last one finishes (see finish.lua). A job others depend on is marked `hd`, so claims
  read its dependents set only when there is one; a replaced job's set survives it, and finish
  re-checks the set, so the mark is an optimization, never a correctness condition.
]]
local F = tonumber(ARGV[3])

-- First pass: every dependency must exist (or be created earlier in this call).
local created = {}
local a, k = 3, 6
while a < #ARGV do
  local id, D = ARGV[a + 1], tonumber(ARGV[a + F])
  for d = 1, D do
    local dep = ARGV[a + F + d]
    if not created[dep] and redis.call('EXISTS', KEYS[k + 2 * d - 1]) == 0 then
      return redis.error_reply('DEPENDENCY_NOT_FOUND ' .. dep .. ' ' .. id)
    end
  end
  created[id] = true
  a, k = a + F + D, k + 1 + 2 * D
end

local earliest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local earliestAt = earliest[2] and tonumber(earliest[2]) or nil
local wakeAt = nil
local n = 0
a, k = 3, 6
local routes = KEYS[#KEYS]
local queuesAdded = {}
while a < #ARGV do
  local id, at, createdAt, name, data, queue = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], ARGV[a + 5], ARGV[a + 6]
  local options, atFront, rec, D = ARGV[a + 7], ARGV[a + 8], ARGV[a + 9], tonumber(ARGV[a + 10])
  local key = KEYS[k]
  local replaced = redis.call('DEL', key) == 1
  -- No status field while scheduled or queued: the schedule says which (see record.ts).
  redis.call('HSET', key, 'n', name, 'd', data, 'c', createdAt)
  if queue ~= 'default' then redis.call('HSET', key, 'q', queue) end -- absent: 'default'
  local hasTtl = false
  if options ~= '' then
    redis.call('HSET', key, 'o', options)
    -- ttlMs: how long a run may wait once due (rq's ttl). Kept apart for dispatch to read;
    -- a run's deadline `ex` is set when it becomes due (here, when it goes straight to ready).
    local ok, decoded = pcall(cjson.decode, options)
    local ttl = ok and type(decoded) == 'table' and tonumber(decoded.ttlMs)
    if ttl then
      hasTtl = true
      redis.call('HSET', key, 'tt', ttl)
      if at == '' then redis.call('HSET', key, 'ex', tonumber(createdAt) + ttl) end
    end
  end
  if atFront ~= '' then redis.call('HSET', key, 'f', '1') end
  -- A new job has no recurrence, route or schedule entry to clear: only a replaced one might.
  if rec ~= '' then redis.call('HSET', KEYS[3], id, rec) elseif replaced then redis.call('HDEL', KEYS[3], id) end

  if at ~= '' and rec == '' and (queue ~= 'default' or atFront ~= '' or D > 0 or hasTtl) then
    redis.call('HSET', routes, id, '1')
  elseif replaced then
    redis.call('HDEL', routes, id)
  end
  local waiting, failedDep = 0, nil
  if D > 0 then
    local deps = {}
    for d = 1, D do
      local dep = ARGV[a + 10 + d]
      deps[d] = dep
      local depStatus = redis.call('HGET', KEYS[k + 2 * d - 1], 's')
      if depStatus ~= 'finished' then
        waiting = waiting + 1
        redis.call('SADD', KEYS[k + 2 * d], queue .. '\t' .. id)
        redis.call('HSET', KEYS[k + 2 * d - 1], 'hd', '1')
        if depStatus == 'failed' then failedDep = dep end
      end
    end
    redis.call('HSET', key, 'p', cjson.encode(deps), 'w', waiting)
    if failedDep then redis.call('HSET', key, 'e', 'waiting on dependency ' .. failedDep .. ', which failed') end
  end

  if not queuesAdded[queue] then
    redis.call('SADD', KEYS[2], queue)
    queuesAdded[queue] = true
  end
  if at == '' then
    if replaced then redis.call('ZREM', KEYS[1], id) end
    if waiting > 0 then
      -- Straight to ready, but a dependency has not finished: it waits in deferred instead.
      redis.call('HSET', key, 's', 'deferred')
      redis.call('ZADD', KEYS[5], createdAt, id)
    else
      if atFront ~= '' then redis.call('LPUSH', KEYS[4], id) else redis.call('RPUSH', KEYS[4], id) end
      redis.call('PUBLISH', ARGV[2], queue .. '\n' .. id)
    end
  else
    local t = tonumber(at)
    redis.call('ZADD', KEYS[1], t, id)
    if (earliestAt == nil or t < earliestAt) and (wakeAt == nil or t < wakeAt) then wakeAt = t end
  end
  n = n + 1
  a, k = a + F + D, k + 1 + 2 * D
end

if wakeAt ~= nil then redis.call('PUBLISH', ARGV[1], wakeAt) end
return n
