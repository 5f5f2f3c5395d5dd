--[[
  claim: take runs for a worker, atomically and keyed by run id, so a run is started once however
  many workers or deliveries race for it. Also peeks at the head of the ready queue, so the next
  claim can name its candidates (every key a script touches must be declared up front).

  KEYS[1]  ready      LIST of the queue
  KEYS[2]  started    ZSET run id -> lease deadline
  KEYS[3]  schedule   ZSET (a record without status is queued only when not in it)
  KEYS[4]  canceled   ZSET of the queue (runs found past their ttlMs deadline go there)
  KEYS[5]  failed     ZSET of the queue (a record found without its handler name goes there)
  then per candidate: its run record HASH, and the dependents SET of its job
  ARGV[1]  now, ms    ARGV[2]  lease, ms    ARGV[3]  worker name
  ARGV[4]  'list': candidates come from the ready queue and must still be in it;
           'sqs': candidates were delivered by SQS (also re-claimable once their lease expired)
  ARGV[5]  how many run ids to peek at    ARGV[6]  claim token prefix
  ARGV[7 ..]  candidate run ids
  Returns  { { outcome, ... } per candidate, "peeked run id\npeeked run id…" } where outcome is
           "claimed US token US attempt US n US d US q US o US c US j US t US f US p US dependents"
                      (US = \31; missing fields empty; dependents joined by \29) — the worker runs it
           'gone'     another worker took it first, or it is not among the first 1,000 of the
                      queue (list), or its record no longer exists
           'done'     nothing to run: finished, canceled, replaced, waiting for a retry, past
                      its ttlMs deadline (then canceled here), or a corrupt record without a
                      handler name (then failed here: plain jobs reach a queue unread) — ack it
           'busy'     started elsewhere and its lease is still alive (SQS: deliver it again later)
           'failed'   failed for good (SQS: report it failed so the message reaches the DLQ)
]]
local now, lease, worker, mode = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local NEAR_HEAD = 1000
-- A claimed run travels as one string: fields joined by US (\31), dependents by GS (\29). Neither
-- occurs raw in a record: names and ids exclude them, JSON escapes every control character.
local US, GS = '\31', '\29'
local EXPIRED_TTL_MS = 500000 -- how long a canceled record stays (DEFAULT_RESULT_TTL_MS)
local FAILED_TTL_MS = 365 * 24 * 3600 * 1000 -- how long a corrupt record stays (DEFAULT_FAILURE_TTL_MS)
local FIRST = 7

-- List mode: the candidates usually are the head of the queue, in order (the last peek). Take that
-- prefix with one LTRIM; look for the others one by one, no further than NEAR_HEAD, so a candidate
-- another worker took first costs a short scan, not one of the whole list.
local taken = {}
if mode == 'list' and #ARGV >= FIRST then
  local head = redis.call('LRANGE', KEYS[1], 0, #ARGV - FIRST)
  local prefix = 0
  while prefix < #head and head[prefix + 1] == ARGV[FIRST + prefix] do prefix = prefix + 1 end
  if prefix > 0 then redis.call('LTRIM', KEYS[1], prefix, -1) end
  for i = FIRST, #ARGV do
    if i - FIRST < prefix then
      taken[i] = true
    elseif redis.call('LPOS', KEYS[1], ARGV[i], 'MAXLEN', NEAR_HEAD) then
      taken[i] = redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1
    end
  end
end

local results = {}
-- One look at the schedule and one lease write for all candidates, not one each.
local scheduled = #ARGV >= FIRST and redis.call('ZMSCORE', KEYS[3], unpack(ARGV, FIRST, #ARGV)) or {}
local leases = {}
for i = FIRST, #ARGV do
  local id = ARGV[i]
  local key, dependents = KEYS[6 + (i - FIRST) * 2], KEYS[7 + (i - FIRST) * 2]
  -- s, then what a worker needs to run it, then a (attempts), hd (it has dependents), ex (deadline)
  local rec = redis.call('HMGET', key, 's', 'n', 'd', 'q', 'o', 'c', 'j', 't', 'f', 'p', 'a', 'hd', 'ex')
  local status = rec[1]
  if not status and rec[2] then
    status = scheduled[i - FIRST + 1] and 'scheduled' or 'queued'
  elseif not status and rec[6] and not scheduled[i - FIRST + 1] and (taken[i] or mode == 'sqs') then
    -- Queued, but without the handler name every record has (`c` shows the record exists).
    status = 'failed'
    redis.call('HSET', key, 's', 'failed', 'e', 'corrupt record: no handler name', 'et', now)
    redis.call('PEXPIRE', key, FAILED_TTL_MS)
    redis.call('ZADD', KEYS[5], now + FAILED_TTL_MS, id)
  end
  local claim = false
  if mode == 'list' then
    if not taken[i] then
      results[#results + 1] = 'gone'
    elseif status == 'queued' then
      claim = true
    else
      results[#results + 1] = status and 'done' or 'gone'
    end
  else
    if status == 'queued' then
      claim = true
    elseif status == 'started' then
      local deadline = redis.call('ZSCORE', KEYS[2], id)
      if deadline and tonumber(deadline) >= now then
        results[#results + 1] = 'busy'
      else
        claim = true -- its worker died: SQS delivered it again after the visibility timeout
      end
    elseif status == 'failed' then
      results[#results + 1] = 'failed'
    else
      results[#results + 1] = status and 'done' or 'gone'
    end
  end
  if claim and rec[13] and now > tonumber(rec[13]) then
    -- Waited longer than its ttlMs: rq's ttl. Canceled, never run; the record expires like one.
    claim = false
    redis.call('HSET', key, 's', 'canceled', 'e', 'expired: waited longer than its ttlMs', 'et', now)
    redis.call('PEXPIRE', key, EXPIRED_TTL_MS)
    redis.call('ZADD', KEYS[4], now + EXPIRED_TTL_MS, id)
    results[#results + 1] = 'done'
  end
  if claim then
    local token = ARGV[6] .. ':' .. (i - FIRST + 1)
    local attempt = (tonumber(rec[11]) or 0) + 1
    local fields = { 's', 'started', 'k', token, 'wk', worker, 'st', now, 'a', attempt }
    if mode == 'sqs' then fields[#fields + 1] = 'v'; fields[#fields + 1] = 'sqs' end
    redis.call('HSET', key, unpack(fields))
    leases[#leases + 1] = now + lease
    leases[#leases + 1] = id
    -- Only a job that was named in a dependsOn has dependents (enqueue marks it `hd`); finish
    -- re-checks the set, so one registered after this claim is not missed.
    local deps = rec[12] and table.concat(redis.call('SMEMBERS', dependents), GS) or ''
    local parts = { 'claimed', token, attempt }
    for f = 2, 10 do parts[#parts + 1] = rec[f] or '' end
    parts[#parts + 1] = deps
    results[#results + 1] = table.concat(parts, US)
  end
end
if #leases > 0 then redis.call('ZADD', KEYS[2], unpack(leases)) end
local peeked = {}
if tonumber(ARGV[5]) > 0 then peeked = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[5]) - 1) end
return { results, table.concat(peeked, '\n') }
