--[[
  claim: take runs for a worker, atomically and keyed by run id, so a run is started once however
  many workers or deliveries race for it. Also peeks at the head of the ready queue, so the next
  claim can name its candidates (every key a script touches must be declared up front).

  KEYS[1]  ready      LIST of the queue
  KEYS[2]  started    ZSET run id -> lease deadline
  then per candidate: its run record HASH, and the dependents SET of its job
  ARGV[1]  now, ms    ARGV[2]  lease, ms    ARGV[3]  worker name
  ARGV[4]  'list': candidates come from the ready queue and must still be in it;
           'sqs': candidates were delivered by SQS (also re-claimable once their lease expired)
  ARGV[5]  how many run ids to peek at    ARGV[6]  claim token prefix
  ARGV[7 ..]  candidate run ids
  Returns  { { outcome, ... } per candidate, { peeked run id, ... } } where outcome is
           'claimed', token, flat HGETALL of the run, { dependents }  — the worker runs it
           'gone'     another worker took it first (list) or its record no longer exists
           'done'     nothing to run: finished, canceled, replaced or waiting for a retry (ack it)
           'busy'     started elsewhere and its lease is still alive (SQS: deliver it again later)
           'failed'   failed for good (SQS: report it failed so the message reaches the DLQ)
]]
local now, lease, worker, mode = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local results = {}
for i = 7, #ARGV do
  local id = ARGV[i]
  local key, dependents = KEYS[3 + (i - 7) * 2], KEYS[4 + (i - 7) * 2]
  local status = redis.call('HGET', key, 's')
  local claim = false
  if mode == 'list' then
    if redis.call('LREM', KEYS[1], 1, id) == 0 then
      results[#results + 1] = { 'gone' }
    elseif status == 'queued' then
      claim = true
    else
      results[#results + 1] = { status and 'done' or 'gone' }
    end
  else
    if status == 'queued' then
      claim = true
    elseif status == 'started' then
      local deadline = redis.call('ZSCORE', KEYS[2], id)
      if deadline and tonumber(deadline) >= now then
        results[#results + 1] = { 'busy' }
      else
        claim = true -- its worker died: SQS delivered it again after the visibility timeout
      end
    elseif status == 'failed' then
      results[#results + 1] = { 'failed' }
    else
      results[#results + 1] = { status and 'done' or 'gone' }
    end
  end
  if claim then
    local token = ARGV[6] .. ':' .. (i - 6)
    redis.call('HSET', key, 's', 'started', 'k', token, 'wk', worker, 'st', now)
    redis.call('HINCRBY', key, 'a', 1)
    if mode == 'sqs' then redis.call('HSET', key, 'v', 'sqs') end
    redis.call('ZADD', KEYS[2], now + lease, id)
    results[#results + 1] = { 'claimed', token, redis.call('HGETALL', key), redis.call('SMEMBERS', dependents) }
  end
end
local peeked = {}
if tonumber(ARGV[5]) > 0 then peeked = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[5]) - 1) end
return { results, peeked }
