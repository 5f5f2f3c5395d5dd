--[[
  release_lock: delete the scheduler lock only if the caller still owns it.

  KEYS[1]  lock  STRING owner token
  ARGV[1]  owner token
  Returns  1 when released, 0 when the lock was not the caller's (expired, or taken over)
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
