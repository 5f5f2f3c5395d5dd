--[[
  renew: extend the leases of runs a worker is still executing.

  KEYS[1]  started    ZSET run id -> lease deadline
  KEYS[2 ..]          the run record of each run, in order
  ARGV[1]  new lease deadline, ms
  ARGV[2 ..]          run id, claim token, run id, claim token, ...
  Returns  { run id, ... } of the runs whose claim was lost (requeued after their lease expired)
]]
local lost = {}
for i = 2, #ARGV, 2 do
  local id, token = ARGV[i], ARGV[i + 1]
  local rec = redis.call('HMGET', KEYS[1 + i / 2], 'k', 's')
  if rec[1] == token and rec[2] == 'started' then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], id)
  else
    lost[#lost + 1] = id
  end
end
return lost
