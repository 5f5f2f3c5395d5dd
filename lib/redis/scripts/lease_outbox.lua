--[[
  lease_outbox: take over outbox entries whose lease expired (sent to SQS by a pass that died
  before its acknowledgement, or whose send failed) and lease them again for a new send.

  KEYS[1]  lock     STRING
  KEYS[2]  outbox   ZSET run id -> lease deadline
  KEYS[3 ..]        the run record of each run id, in order
  ARGV[1]  lock token    ARGV[2]  lock TTL, ms    ARGV[3]  now, ms    ARGV[4]  lease, ms
  ARGV[5 ..]        run ids
  Returns  -1 when the lock is not held; otherwise { run id, queue, ... } for the entries leased
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
local now = tonumber(ARGV[3])
local leased = {}
for i = 5, #ARGV do
  local deadline = redis.call('ZSCORE', KEYS[2], ARGV[i])
  if deadline and tonumber(deadline) <= now then
    local rec = redis.call('HMGET', KEYS[i - 2], 'n', 'q')
    local queue = rec[2] or 'default'
    if rec[1] then
      redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), ARGV[i])
      leased[#leased + 1] = ARGV[i]
      leased[#leased + 1] = queue
    else
      redis.call('ZREM', KEYS[2], ARGV[i]) -- the run's record is gone: nothing left to send
    end
  end
end
return leased
