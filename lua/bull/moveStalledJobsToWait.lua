-- moveStalledJobsToWait: the stalled-job check, at most once per interval across all workers
-- (docs/bull.md §4.6). Active jobs seen by the previous check that still have no lock are
-- made ready again (at the popping end), or failed once stalled more than maxStalled times.
-- @key stalled          queue
-- @key wait             queue
-- @key active           queue
-- @key failed           queue
-- @key stalledCheck     queue:stalled-check
-- @key metaPaused       queue:meta-paused
-- @key paused           queue
-- @arg maxStalled       int
-- @arg prefix           base
-- @arg now              int     now (ms)
-- @arg interval         int     the check interval (ms)
-- Reply: [failedIds, requeuedIds]
--@include push
--@include keep

local base, now = ARGV[2], ARGV[3]

-- A job failed for stalling is trimmed by its own removeOnFail, read from its opts.
local function trimFailed(rule, jobId)
  local kind = type(rule)
  if kind == "number" then
    keepNewest(base, KEYS[4], rule)
  elseif kind == "boolean" then
    if rule then
      dropJob(base, jobId)
      redis.call("ZREM", KEYS[4], jobId)
    end
  elseif kind == "table" then
    if rule.age ~= nil then
      keepYounger(base, KEYS[4], now, rule.age)
    end
    if rule.count ~= nil and rule.count > 0 then
      keepNewest(base, KEYS[4], rule.count)
    end
  end
end

local function failStalled(jobId, jobKey)
  local attrs = redis.call("HMGET", jobKey, "opts", "deid")
  local opts = cjson.decode(attrs[1])
  redis.call("ZADD", KEYS[4], now, jobId)
  redis.call("HMSET", jobKey, "failedReason", "job stalled more than allowable limit",
    "finishedOn", now)
  freeDebounce(base, attrs[2])
  redis.call("PUBLISH", KEYS[4],
    '{"jobId":"' .. jobId .. '", "val": "job stalled more than maxStalledCount"}')
  trimFailed(opts["removeOnFail"], jobId)
end

if redis.call("EXISTS", KEYS[5]) == 1 then
  return { {}, {} }
end
redis.call("SET", KEYS[5], now, "PX", ARGV[4])

local failed, requeued = {}, {}
local suspects = redis.call("SMEMBERS", KEYS[1])
if #suspects > 0 then
  redis.call("DEL", KEYS[1])
  local most = tonumber(ARGV[1])
  for _, jobId in ipairs(suspects) do
    local jobKey = base .. jobId
    if redis.call("EXISTS", jobKey .. ":lock") == 0 and
        redis.call("LREM", KEYS[3], 1, jobId) > 0 then
      if redis.call("HINCRBY", jobKey, "stalledCounter", 1) > most then
        failStalled(jobId, jobKey)
        failed[#failed + 1] = jobId
      else
        redis.call("RPUSH", readyList(KEYS[6], KEYS[2], KEYS[7]), jobId)
        redis.call("PUBLISH", KEYS[1] .. "@", jobId)
        requeued[#requeued + 1] = jobId
      end
    end
  end
end

-- every job active now is a suspect for the next check, unless its lock is renewed meanwhile
local active = redis.call("LRANGE", KEYS[3], 0, -1)
for from = 1, #active, 7000 do
  redis.call("SADD", KEYS[1], unpack(active, from, math.min(from + 6999, #active)))
end
return { failed, requeued }
