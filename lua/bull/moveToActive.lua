-- moveToActive: take a job for this worker (docs/bull.md §4.2): the one the blocking wait
-- already moved to active, or the next waiting one; with a rate limit, a job over the limit
-- goes to delayed instead, or back to wait with bounceBack (§4.11).
-- @key wait             queue
-- @key active           queue
-- @key priority         queue
-- @key stalled          queue
-- @key limiter          queue
-- @key delayed          queue
-- @key paused           queue
-- @key metaPaused       queue:meta-paused
-- @arg prefix           base
-- @arg token            str     the worker's lock token
-- @arg lockMs           int     lock duration (ms)
-- @arg now              int     now (ms), becomes processedOn
-- @arg jobId            str     the id already in active, or "" to take the next waiting job
-- @arg limitMax         int     jobs per window, 0 for no rate limit
-- @arg limitMs          int     the window (ms)
-- @arg limitGroup       int     1: one limit per group, the text after the id's last ':'
-- @arg bounceBack       int     1: a job over the limit goes back to wait, not to delayed
-- Reply: [jobHashFlat, jobId] | 0 when nothing was waiting | [0, dueMs] when the job was
--        put off by the rate limit | [1, waitMs] when it was bounced back to wait
--@include activate
--@include claim

local base, token, jobId = ARGV[1], ARGV[2], ARGV[5]

-- The limit's counter: the queue's, or with groups the job's group's (an id without a group
-- part is its own group; one ending in ':' counts on the queue's).
local function counterKey()
  if ARGV[8] == "1" then
    local group = string.match(jobId, "[^:]+$")
    if group then
      return KEYS[5] .. ":" .. group
    end
  end
  return KEYS[5]
end

-- Over the limit with bounceBack: the job leaves active for the end of wait it came from (it
-- runs first once the window is over), or paused when the queue was paused meanwhile. Bull
-- drops the job here (it leaves active for nowhere); we keep it (docs/bull.md §4.11).
local function bounce()
  redis.call("LREM", KEYS[2], 1, jobId)
  local target = redis.call("EXISTS", KEYS[8]) == 1 and KEYS[7] or KEYS[1]
  redis.call("RPUSH", target, jobId)
end

-- The delay the limit imposes on jobId (0: it may run, and it is counted). Jobs put off
-- earlier are remembered in <counter>:limited so that they pass when they come back, and so
-- that newcomers queue up behind them. Returns the delay and whether the job was bounced.
local function limitDelay(max, window)
  local counter = counterKey()
  local limited, index = counter .. ":limited", KEYS[5] .. ":index"
  local delay = 0
  if redis.call("SISMEMBER", limited, jobId) == 1 then
    redis.call("SREM", limited, jobId)
    redis.call("HDEL", index, jobId)
  else
    local waiting = redis.call("SCARD", limited)
    if waiting > 0 then
      delay = waiting * window * 1.1 / max + tonumber(redis.call("PTTL", counter))
    end
  end
  local count = tonumber(redis.call("GET", counter)) or 0
  if delay == 0 and count >= max then
    delay = tonumber(redis.call("PTTL", counter)) + (count - max) * window / max
    -- the window ends within this millisecond: Bull lets the job through, counted in the old
    -- window; a bounced job comes back exactly then, so it waits for the next one instead
    if delay <= 0 and ARGV[9] == "1" then
      delay = 1
    end
  end
  if delay > 0 and ARGV[9] == "1" then
    bounce()
    return delay, true
  end
  if delay > 0 then
    local due = delay + tonumber(ARGV[4])
    redis.call("ZADD", KEYS[6], due * 0x1000 + bit.band(count, 0xfff), jobId)
    redis.call("PUBLISH", KEYS[6], due)
    redis.call("SADD", limited, jobId)
    redis.call("HSET", index, jobId, limited)
    redis.call("LREM", KEYS[2], 1, jobId)
    return due, false
  end
  if count == 0 then
    redis.call("PSETEX", counter, window, 1)
  else
    redis.call("INCR", counter)
  end
  return 0, false
end

jobId = claimJob(KEYS[1], KEYS[2], KEYS[4], base, jobId)
if not jobId then
  return 0
end
local max = tonumber(ARGV[6])
if max > 0 then
  local delay, bounced = limitDelay(max, tonumber(ARGV[7]))
  if bounced then
    return { 1, math.max(1, math.ceil(delay)) }
  end
  if delay > 0 then
    return { 0, math.ceil(delay) }
  end
end
return activate(base, jobId, token, ARGV[3], ARGV[4], KEYS[3])
