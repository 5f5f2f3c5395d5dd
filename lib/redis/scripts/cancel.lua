--[[
  cancel: take a job out of the schedule, atomically. A scheduled job (recurring or not) loses
  its schedule entry and its record, so a concurrent dispatch either ran before or sees nothing.
  A queued or deferred job becomes `canceled`: it leaves its ready queue or the deferred registry,
  enters the canceled registry (scored by when its record expires) and its record expires after
  `ttl`. A running job is not canceled.

  KEYS[1]  schedule   ZSET
  KEYS[2]  recurring  HASH
  KEYS[3]  job record HASH
  KEYS[4]  ready      LIST of the queue the caller expects the job on
  KEYS[5]  deferred   ZSET of that queue
  KEYS[6]  canceled   ZSET of that queue
  KEYS[7]  routes     HASH (see keys.ts)
  ARGV[1]  job id   ARGV[2]  the queue KEYS[4..6] belong to   ARGV[3]  now, ms   ARGV[4]  ttl, ms
  Returns  1 when canceled; 0 when unknown, running or already done;
           { 'queue', q } when the job is on queue q (nothing written: call again with its keys)
]]
local id = ARGV[1]
redis.call('HDEL', KEYS[2], id)
redis.call('HDEL', KEYS[7], id)
if redis.call('ZREM', KEYS[1], id) == 1 then
  redis.call('DEL', KEYS[3])
  return 1
end
local rec = redis.call('HMGET', KEYS[3], 's', 'q', 'n')
local status, queue = rec[1], rec[2] or 'default' -- no `q`: the default queue
if not status and rec[3] then status = 'queued' end -- not in the schedule (ZREM above), no status
if status ~= 'queued' and status ~= 'deferred' then return 0 end
if queue ~= ARGV[2] then return { 'queue', queue } end
redis.call('LREM', KEYS[4], 0, id)
redis.call('ZREM', KEYS[5], id)
redis.call('HSET', KEYS[3], 's', 'canceled', 'et', ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
redis.call('ZADD', KEYS[6], tonumber(ARGV[3]) + tonumber(ARGV[4]), id)
return 1
