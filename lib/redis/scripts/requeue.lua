--[[
  requeue: put a failed run back on its ready queue for a fresh set of attempts.

  KEYS[1]  failed   ZSET of the run's queue
  KEYS[2]  ready    LIST of the run's queue
  KEYS[3]  the run's record HASH
  ARGV[1]  run id   ARGV[2]  queue the caller read from the record   ARGV[3]  ready channel
  Returns  1 when requeued; 0 when the run is not failed (or is on another queue than read)
]]
if redis.call('HGET', KEYS[3], 's') ~= 'failed' or (redis.call('HGET', KEYS[3], 'q') or 'default') ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('PERSIST', KEYS[3])
redis.call('HSET', KEYS[3], 'a', 0, 'sc', 0)
redis.call('HDEL', KEYS[3], 's', 'e', 'es', 'et', 'r') -- queued
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('PUBLISH', ARGV[3], ARGV[2] .. '\n' .. ARGV[1])
return 1
