--[[
  requeue_stalled: runs whose lease expired (their worker crashed or its Lambda timed out) go back
  to the ready queue, up to a limit of stalls, then to the failed registry. Runs delivered by SQS
  are left alone: SQS delivers them again and `claim` takes them over.

  KEYS[1]  started   ZSET run id -> lease deadline
  KEYS[2]  ready     LIST
  KEYS[3]  failed    ZSET
  then per run: its record HASH and its job's record HASH (the same key for one-off jobs)
  ARGV[1]  now, ms   ARGV[2]  stalls allowed   ARGV[3]  ready channel   ARGV[4]  queue
  ARGV[5 ..]  run ids
  Returns  { requeued, failed }
]]
local now, allowed = tonumber(ARGV[1]), tonumber(ARGV[2])
local requeued, failed = 0, 0
local ids = {}
for i = 5, #ARGV do
  local id = ARGV[i]
  local key, jobKey = KEYS[4 + (i - 5) * 2], KEYS[5 + (i - 5) * 2]
  local deadline = redis.call('ZSCORE', KEYS[1], id)
  if deadline and tonumber(deadline) < now and redis.call('HGET', key, 'v') ~= 'sqs' then
    redis.call('ZREM', KEYS[1], id)
    if redis.call('HGET', key, 's') == 'started' then
      local stalls = redis.call('HINCRBY', key, 'sc', 1)
      if stalls > allowed then
        local ttl = 365 * 24 * 3600 * 1000
        redis.call('HSET', key, 's', 'failed', 'e', 'stalled ' .. stalls .. ' times: its worker stopped renewing the lease', 'et', now)
        redis.call('PEXPIRE', key, ttl)
        redis.call('ZADD', KEYS[3], now + ttl, id)
        if jobKey ~= key and redis.call('EXISTS', jobKey) == 1 then redis.call('HINCRBY', jobKey, 'x', -1) end
        failed = failed + 1
      else
        redis.call('HDEL', key, 's') -- queued
        redis.call('RPUSH', KEYS[2], id)
        ids[#ids + 1] = id
        requeued = requeued + 1
      end
    end
  end
end
if #ids > 0 then redis.call('PUBLISH', ARGV[3], ARGV[4] .. '\n' .. table.concat(ids, '\n')) end
return { requeued, failed }
