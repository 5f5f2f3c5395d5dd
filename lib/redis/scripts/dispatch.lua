--[[
  dispatch: the write half of a dispatch batch, atomic (plain jobs move in `due` already). For
  each due entry planned by the caller it re-checks that the entry is still in the schedule and
  still due (a recurring job: at the same slot, with the same recurrence), so a concurrent
  cancel, replace, move or another scheduler makes it skip; then it moves the entry to its ready
  queue (or to the SQS outbox, leased), creates one run record per slot of a recurring job and
  reschedules the job for its next slot. Nothing happens unless the caller still holds the lock:
  a scheduler whose lock expired mid-pass cannot dispatch.

  KEYS[1]  lock       STRING
  KEYS[2]  schedule   ZSET
  KEYS[3]  recurring  HASH
  KEYS[4]  outbox     ZSET run id -> lease deadline (SQS target)
  KEYS[5 .. 4+3Q]     per known queue i: ready LIST, failed ZSET, deferred ZSET
  KEYS[5+3Q ..]       the record key of each entry, in ARGV order (one-off, then recurring,
                      then failing entries), then one run record key per slot of each
                      recurring entry
  KEYS[#KEYS]         routes HASH: jobs whose dispatch must read their record (see keys.ts)
  ARGV[1]  lock token           ARGV[2]  lock TTL, ms        ARGV[3]  now, ms
  ARGV[4]  target: 'redis' or 'sqs'                          ARGV[5]  SQS lease, ms
  ARGV[6]  ready channel (published with `queue`, then up to 100 run ids, one per line)
  ARGV[7]  handler names, space separated; '' = do not check
  ARGV[8]  the scheduler's queue, for failed records naming an unknown queue
  ARGV[9]  Q, then Q queue names
  then     O, then per one-off job or retried run: member (it goes when still due at now,
           whatever its time: a move to another past time changes nothing)
  then     R, then per recurring job: member, score, recurrence JSON as read, next recurrence
           JSON, next slot or '', slots (comma separated), '1' to skip its runs while one is active
  then     F, then per entry to fail: member, score, reason
  A job with a ttlMs (`tt`) gets its deadline `ex` = due time + ttlMs here; claim.lua cancels a
  run found past it. A one-off job still waiting on a dependency (`w` > 0) goes to its queue's deferred registry
  instead; finish.lua releases it when its last dependency finishes. A failed entry's record
  expires after its failureTtlMs (default one year), the score of the failed registry.

  Returns  -1 when the lock is not held; otherwise
           { dispatched, rescheduled, skipped, failed, stale, { run id, queue, ... sent to the outbox },
             earliest due time left in the schedule or false }
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])

local now, target, lease = tonumber(ARGV[3]), ARGV[4], tonumber(ARGV[5])
local schedule, recurring, routes = KEYS[2], KEYS[3], KEYS[#KEYS]
local Q = tonumber(ARGV[9])
local queueIndex = {}
for i = 1, Q do queueIndex[ARGV[9 + i]] = i end
local handlers = nil
if ARGV[7] ~= '' then
  handlers = {}
  for name in string.gmatch(ARGV[7], '%S+') do handlers[name] = true end
end

local dispatched, rescheduled, skipped, failed, stale = 0, 0, 0, 0, 0
local outboxed, removed = {}, {}
local back, front = {}, {} -- per queue: run ids to append, run ids to put at the front

local function push(queue, runId, atFront)
  dispatched = dispatched + 1
  if target == 'sqs' then
    redis.call('ZADD', KEYS[4], now + lease, runId)
    outboxed[#outboxed + 1] = runId
    outboxed[#outboxed + 1] = queue
    return
  end
  local lists = atFront and front or back
  local list = lists[queue]
  if not list then list = {}; lists[queue] = list end
  list[#list + 1] = runId
end

local YEAR = 365 * 24 * 3600 * 1000
local function fail(key, member, queue, reason)
  if not queueIndex[queue] then queue = ARGV[8] end
  removed[#removed + 1] = member
  redis.call('HDEL', recurring, member)
  redis.call('HDEL', routes, member)
  local ttl = YEAR
  local options = redis.call('HGET', key, 'o')
  if options then
    local ok, decoded = pcall(cjson.decode, options)
    if ok and type(decoded) == 'table' and tonumber(decoded.failureTtlMs) then ttl = tonumber(decoded.failureTtlMs) end
  end
  redis.call('HSET', key, 's', 'failed', 'e', reason, 'et', now)
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) else redis.call('DEL', key) end
  if queueIndex[queue] then redis.call('ZADD', KEYS[3 + 3 * queueIndex[queue]], now + ttl, member) end
  failed = failed + 1
end

-- Checks a record before queueing it; returns its queue when it may run.
local function runnable(key, member, name, queue)
  if not name then
    fail(key, member, queue, 'corrupt record: no handler name')
  elseif handlers and not handlers[name] then
    fail(key, member, queue, 'unknown handler "' .. name .. '"')
  elseif not queueIndex[queue] then
    stale = stale + 1 -- a queue born after the read half: the next batch takes it
  else
    return queue
  end
  return nil
end

-- Current scores of a section's members, to skip entries that changed since the read half.
local function scores(first, count, stride)
  if count == 0 then return {} end
  local members = {}
  for i = 0, count - 1 do members[i + 1] = ARGV[first + i * stride] end
  return redis.call('ZMSCORE', schedule, unpack(members))
end

local keyCursor = 5 + 3 * Q
local a = 10 + Q

-- One-off jobs and retried runs.
local O = tonumber(ARGV[a])
local current = scores(a + 1, O, 1)
for i = 0, O - 1 do
  local member = ARGV[a + 1 + i]
  local key = KEYS[keyCursor + i]
  if not current[i + 1] or tonumber(current[i + 1]) > now then
    stale = stale + 1
  else
    local rec = redis.call('HMGET', key, 'n', 'q', 'f', 'w', 'tt')
    local queue = runnable(key, member, rec[1], rec[2] or 'default')
    if queue then
      removed[#removed + 1] = member
      redis.call('HDEL', routes, member)
      if rec[5] then redis.call('HSET', key, 'ex', tonumber(current[i + 1]) + tonumber(rec[5])) end
      if rec[4] and tonumber(rec[4]) > 0 then
        redis.call('HSET', key, 's', 'deferred')
        redis.call('ZADD', KEYS[4 + 3 * queueIndex[queue]], now, member)
      else
        -- No status write: out of the schedule and without `s`, a record reads as queued.
        push(queue, member, rec[3] == '1')
      end
    end
  end
end
keyCursor = keyCursor + O
a = a + 1 + O

-- Recurring jobs.
local R = tonumber(ARGV[a])
current = scores(a + 1, R, 7)
-- Run record keys come after every entry's record key: R recurring, then F failing (ARGV[a + 1 + 7R]).
local runCursor = keyCursor + R + tonumber(ARGV[a + 1 + R * 7])
for i = 0, R - 1 do
  local o = a + i * 7
  local member, score = ARGV[o + 1], tonumber(ARGV[o + 2])
  local key = KEYS[keyCursor + i]
  local slots = {}
  for s in string.gmatch(ARGV[o + 6], '[^,]+') do slots[#slots + 1] = s end
  local firstRun = runCursor
  runCursor = runCursor + #slots
  if not current[i + 1] or tonumber(current[i + 1]) ~= score or redis.call('HGET', recurring, member) ~= ARGV[o + 3] then
    stale = stale + 1
  else
    local rec = redis.call('HMGET', key, 'n', 'q', 'f', 'd', 'o', 'x', 'tt')
    local queue = runnable(key, member, rec[1], rec[2] or 'default')
    if queue then
      if ARGV[o + 7] == '1' and tonumber(rec[6] or '0') > 0 then
        skipped = skipped + #slots
      else
        for j, slot in ipairs(slots) do
          local runId = member .. '@' .. slot
          local runKey = KEYS[firstRun + j - 1]
          redis.call('DEL', runKey)
          redis.call('HSET', runKey, 'n', rec[1], 'd', rec[4] or 'null', 'c', now, 'j', member, 't', slot)
          if rec[2] then redis.call('HSET', runKey, 'q', rec[2]) end
          if rec[7] then redis.call('HSET', runKey, 'ex', tonumber(slot) + tonumber(rec[7])) end
          if rec[5] then redis.call('HSET', runKey, 'o', rec[5]) end
          redis.call('HINCRBY', key, 'x', 1)
          push(queue, runId, rec[3] == '1')
        end
      end
      if ARGV[o + 5] ~= '' then
        redis.call('ZADD', schedule, ARGV[o + 5], member)
        redis.call('HSET', recurring, member, ARGV[o + 4])
      else
        removed[#removed + 1] = member
        redis.call('HDEL', recurring, member)
        redis.call('HSET', key, 's', 'finished')
      end
      rescheduled = rescheduled + 1
    end
  end
end
keyCursor = keyCursor + R
a = a + 1 + R * 7

-- Entries the caller found broken (e.g. a corrupt recurrence).
local F = tonumber(ARGV[a])
current = scores(a + 1, F, 3)
for i = 0, F - 1 do
  local o = a + i * 3
  local member = ARGV[o + 1]
  local key = KEYS[keyCursor + i]
  if not current[i + 1] or tonumber(current[i + 1]) ~= tonumber(ARGV[o + 2]) then
    stale = stale + 1
  else
    fail(key, member, redis.call('HGET', key, 'q') or 'default', ARGV[o + 3])
  end
end

if #removed > 0 then redis.call('ZREM', schedule, unpack(removed)) end
for queue, list in pairs(front) do
  local reversed = {}
  for i = #list, 1, -1 do reversed[#reversed + 1] = list[i] end
  redis.call('LPUSH', KEYS[2 + 3 * queueIndex[queue]], unpack(reversed))
end
for queue, list in pairs(back) do redis.call('RPUSH', KEYS[2 + 3 * queueIndex[queue]], unpack(list)) end
for queue, list in pairs(back) do
  local ids = {}
  for i = 1, math.min(#list, 100) do ids[i] = list[i] end
  redis.call('PUBLISH', ARGV[6], queue .. '\n' .. table.concat(ids, '\n'))
end
for queue, list in pairs(front) do
  if not back[queue] then redis.call('PUBLISH', ARGV[6], queue .. '\n' .. list[1]) end
end

local first = redis.call('ZRANGE', schedule, 0, 0, 'WITHSCORES')
return { dispatched, rescheduled, skipped, failed, stale, outboxed, first[2] or false }
