--[[
  get_job: read a job's record, due time and recurrence in one consistent snapshot.

  KEYS[1]  schedule   ZSET
  KEYS[2]  recurring  HASH
  KEYS[3]  job record HASH
  ARGV[1]  job id
  Returns  { flat HGETALL of the record, due ms or false, recurrence JSON or false }
]]
return {
  redis.call('HGETALL', KEYS[3]),
  redis.call('ZSCORE', KEYS[1], ARGV[1]),
  redis.call('HGET', KEYS[2], ARGV[1]),
}
