--[[
  cancel: remove a job from the schedule and delete its record, atomically, so a concurrent
  dispatch either ran before (the run is queued, its record gone: workers skip it) or sees nothing.

  KEYS[1]  schedule   ZSET
  KEYS[2]  recurring  HASH
  KEYS[3]  job record HASH
  ARGV[1]  job id
  Returns  1 when the job existed, 0 when it was unknown
]]
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
local deleted = redis.call('DEL', KEYS[3])
if removed + deleted > 0 then return 1 end
return 0
