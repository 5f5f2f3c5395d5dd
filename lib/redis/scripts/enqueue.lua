--[[
  enqueue: schedule (create or replace) one or more jobs, atomically, in one round trip.
  Scheduler.enqueueAt / enqueueIn / schedule / cron call it with one job; enqueueMany with many.

  KEYS[1]      schedule   ZSET id -> due ms
  KEYS[2]      queues     SET of queue names
  KEYS[3]      recurring  HASH id -> recurrence JSON
  KEYS[3 + i]  job record HASH of the i-th job
  ARGV[1]      wake channel: published with the due time when a job becomes the earliest
  ARGV[2]      fields per job (F), then F values per job, in this order:
               id, at (ms), created (ms), name, data JSON, queue, options JSON or '',
               atFront '1' or '', dependsOn JSON or '', recurrence JSON or ''
  Returns      the number of jobs written

  Replacing a job deletes its record first, so no field of the old job survives. A run of the old
  job already in a ready queue is left there: workers claim only runs whose record says `queued`.
]]
local F = tonumber(ARGV[2])
local n = (#ARGV - 2) / F
local earliest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local earliestAt = earliest[2] and tonumber(earliest[2]) or nil
local wakeAt = nil

for i = 0, n - 1 do
  local o = 2 + i * F
  local id, at, key = ARGV[o + 1], tonumber(ARGV[o + 2]), KEYS[4 + i]
  redis.call('DEL', key)
  redis.call('HSET', key, 'n', ARGV[o + 4], 'd', ARGV[o + 5], 'q', ARGV[o + 6], 's', 'scheduled', 'c', ARGV[o + 3])
  if ARGV[o + 7] ~= '' then redis.call('HSET', key, 'o', ARGV[o + 7]) end
  if ARGV[o + 8] ~= '' then redis.call('HSET', key, 'f', '1') end
  if ARGV[o + 9] ~= '' then redis.call('HSET', key, 'p', ARGV[o + 9]) end
  if ARGV[o + 10] ~= '' then
    redis.call('HSET', KEYS[3], id, ARGV[o + 10])
  else
    redis.call('HDEL', KEYS[3], id)
  end
  redis.call('ZADD', KEYS[1], at, id)
  redis.call('SADD', KEYS[2], ARGV[o + 6])
  if (earliestAt == nil or at < earliestAt) and (wakeAt == nil or at < wakeAt) then wakeAt = at end
end

if wakeAt ~= nil then redis.call('PUBLISH', ARGV[1], wakeAt) end
return n
