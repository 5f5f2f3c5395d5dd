--[[
  due: the read half of a dispatch batch, which also moves the plain jobs. Confirms the caller
  holds the scheduler lock (and extends it), then reads the due schedule entries. A plain entry
  (not recurring, no route: a one-off job on the default queue without atFront, dependsOn or
  ttlMs) needs no planning and no record read, so it moves here, atomically, with batch
  commands: off the schedule, onto the default ready queue (or into the SQS outbox, leased).
  Every other due entry is listed for the caller to plan, with its recurrence, for `dispatch`,
  which re-checks everything it acts on. Also lists the known queues and the outbox entries whose
  lease expired (SQS target: sent but never acknowledged).

  KEYS[1]  lock       STRING owner token
  KEYS[2]  schedule   ZSET
  KEYS[3]  queues     SET
  KEYS[4]  recurring  HASH
  KEYS[5]  outbox     ZSET run id -> lease deadline
  KEYS[6]  routes     HASH: due jobs whose dispatch must read their record
  KEYS[7]  ready      LIST of the default queue
  ARGV[1]  lock token
  ARGV[2]  lock TTL, ms
  ARGV[3]  now, ms
  ARGV[4]  how many due entries to read
  ARGV[5]  where plain jobs go: 'redis' (the default ready queue) or 'sqs' (the outbox)
  ARGV[6]  SQS lease, ms
  ARGV[7]  ready channel (published with "default", then up to 100 run ids, one per line)
  Returns  -1 when the lock is not held; otherwise
           { "member\nmember…", "score\nscore…" (the entries to plan), { queue, ... },
             { recurrence JSON or false, per entry to plan }, { expired run id, ... },
             earliest due time left in the schedule or false, plain jobs moved,
             { run id, 'default', ... plain jobs put in the outbox } }
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])

local now, target = tonumber(ARGV[3]), ARGV[5]

-- Calls a command whose arguments end with a long list, in slices Lua's unpack can take.
local function sliced(command, key, list)
  for i = 1, #list, 4000 do
    redis.call(command, key, unpack(list, i, math.min(i + 3999, #list)))
  end
end

local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, ARGV[4])
local n = #due / 2
local members, scores, recs, plain = {}, {}, {}, {}
if n > 0 then
  local ids = {}
  for i = 1, n do ids[i] = due[2 * i - 1] end
  local rec = redis.call('HLEN', KEYS[4]) > 0 and redis.call('HMGET', KEYS[4], unpack(ids)) or {}
  local routed = redis.call('HLEN', KEYS[6]) > 0 and redis.call('HMGET', KEYS[6], unpack(ids)) or {}
  for i = 1, n do
    if not rec[i] and not routed[i] then
      plain[#plain + 1] = ids[i]
    else
      members[#members + 1] = ids[i]
      scores[#scores + 1] = due[2 * i]
      recs[#recs + 1] = rec[i] or false
    end
  end
end

local outboxed = {}
if #plain > 0 then
  -- All read entries plain (the usual case): they are the first n by rank.
  if #plain == n then redis.call('ZREMRANGEBYRANK', KEYS[2], 0, n - 1) else sliced('ZREM', KEYS[2], plain) end
  redis.call('SADD', KEYS[3], 'default')
  if target == 'sqs' then
    local deadline, entries = now + tonumber(ARGV[6]), {}
    for i, id in ipairs(plain) do
      entries[#entries + 1] = deadline
      entries[#entries + 1] = id
      outboxed[2 * i - 1] = id
      outboxed[2 * i] = 'default'
    end
    sliced('ZADD', KEYS[5], entries)
  else
    sliced('RPUSH', KEYS[7], plain)
    redis.call('PUBLISH', ARGV[7], 'default\n' .. table.concat(plain, '\n', 1, math.min(#plain, 100)))
  end
end

local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, ARGV[4])
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
-- Members and scores travel as two newline-joined strings (ids have no newline): thousands of
-- bulk strings cost the client far more to decode than one.
return { table.concat(members, '\n'), table.concat(scores, '\n'), redis.call('SMEMBERS', KEYS[3]), recs,
  expired, first[2] or false, #plain, outboxed }
