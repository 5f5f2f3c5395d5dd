--[[
  change_execution_time: move a scheduled job to a new due time.

  KEYS[1]  schedule   ZSET
  ARGV[1]  job id
  ARGV[2]  new due time, ms
  ARGV[3]  wake channel
  Returns  1 when moved, 0 when the job is not scheduled (nothing is written then)
]]
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1])
local first = redis.call('ZRANGE', KEYS[1], 0, 0)
if first[1] == ARGV[1] then redis.call('PUBLISH', ARGV[3], ARGV[2]) end
return 1
