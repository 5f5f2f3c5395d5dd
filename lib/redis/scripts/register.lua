--[[
  register: birth, heartbeat and death of a scheduler or worker instance, like rq's registries.
  Live instances sit in a sorted set scored by their last heartbeat; each has a hash that
  expires when the heartbeats stop.

  KEYS[1]  schedulers or workers  ZSET name -> last heartbeat, ms
  KEYS[2]  the instance           HASH name, host, pid, birth, heartbeat, death, and the caller's fields
  ARGV[1]  name   ARGV[2]  now, ms   ARGV[3]  TTL, ms   ARGV[4]  'birth' | 'beat' | 'death'
  ARGV[5 ..]  field, value pairs to set
  Returns  1
]]
local fields = {}
for i = 5, #ARGV do fields[#fields + 1] = ARGV[i] end
if ARGV[4] == 'birth' then redis.call('DEL', KEYS[2]) end
if #fields > 0 then redis.call('HSET', KEYS[2], unpack(fields)) end
if ARGV[4] == 'death' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[2], 'death', ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
else
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
  redis.call('HSET', KEYS[2], 'heartbeat', ARGV[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
return 1
