--[[
  due: the read half of a dispatch batch. Confirms the caller holds the scheduler lock (and
  extends it), then lists the due schedule entries, the known queues, the recurrence of each due
  recurring job, and outbox entries whose lease expired (SQS target: sent but never acknowledged).
  Reads only; `dispatch` re-checks everything it acts on.

  KEYS[1]  lock       STRING owner token
  KEYS[2]  schedule   ZSET
  KEYS[3]  queues     SET
  KEYS[4]  recurring  HASH
  KEYS[5]  outbox     ZSET run id -> lease deadline
  KEYS[6]  routes     HASH: due jobs whose dispatch must read their record
  ARGV[1]  lock token
  ARGV[2]  lock TTL, ms
  ARGV[3]  now, ms
  ARGV[4]  batch size
  Returns  -1 when the lock is not held; otherwise
           { "member\nmember…", "score\nscore…", { queue, ... }, { recurrence JSON or false, ... },
             { expired run id, ... }, earliest due time in the schedule or false,
             { route or false, ... } } (the recurrence and route lists are empty when no due
           job has one)
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])

local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[3], 'WITHSCORES', 'LIMIT', 0, ARGV[4])
local recs, routes = {}, {}
if #due > 0 then
  local ids = {}
  for i = 1, #due, 2 do ids[#ids + 1] = due[i] end
  if redis.call('HLEN', KEYS[4]) > 0 then recs = redis.call('HMGET', KEYS[4], unpack(ids)) end
  if redis.call('HLEN', KEYS[6]) > 0 then routes = redis.call('HMGET', KEYS[6], unpack(ids)) end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', ARGV[3], 'LIMIT', 0, ARGV[4])
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
-- Members and scores travel as two newline-joined strings (ids have no newline): thousands of
-- bulk strings cost the client far more to decode than one.
local members, scores = {}, {}
for i = 1, #due, 2 do
  members[#members + 1] = due[i]
  scores[#scores + 1] = due[i + 1]
end
return { table.concat(members, '\n'), table.concat(scores, '\n'), redis.call('SMEMBERS', KEYS[3]), recs, expired, first[2] or false, routes }
