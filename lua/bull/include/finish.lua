-- Finishing one job, as moveToFinished does it (docs/bull.md §4.3); moveToFinished.lua and
-- moveToFinishedBatch.lua both call it. q: the queue's keys and the worker's values (active,
-- wait, priority, stalled keys; base, token, lockMs). Returns the reply moveToFinished gives.
--@include lock
--@include keep
--@include activate
--@include metrics

local function finishJob(q, target, jobKey, metricsKey, jobId, now, valueField, value, keepRule,
                         event, fetchNext, fields, maxMetrics)
  local base = q.base
  local rc = leaveActive(jobKey, q.active, q.stalled, q.token, jobId, fields)
  if rc ~= 0 then
    return rc
  end
  freeDebounce(base, redis.call("HGET", jobKey, "deid"))

  local keep = cmsgpack.unpack(keepRule)
  if keep.count ~= 0 then
    redis.call("ZADD", target, now, jobId)
    redis.call("HMSET", jobKey, valueField, value, "finishedOn", now)
    if keep.age then
      keepYounger(base, target, now, keep.age)
    end
    if keep.count and keep.count > 0 then
      keepNewest(base, target, keep.count)
    end
  else
    redis.call("DEL", jobKey, jobKey .. ":logs")
  end
  if maxMetrics ~= "" then
    recordMetric(metricsKey, maxMetrics, now)
  end
  redis.call("PUBLISH", target, event)

  if fetchNext == "1" then
    local nextId = redis.call("RPOPLPUSH", q.wait, q.active)
    if nextId then
      return activate(base, nextId, q.token, q.lockMs, now, q.priority)
    end
  end
  return 0
end

-- Taking a job as moveToActive does without a rate limit (docs/bull.md §4.2). Returns
-- [hash, id], or 0 when nothing was waiting.
local function takeJob(q, jobId, now)
  jobId = claimJob(q.wait, q.active, q.stalled, q.base, jobId)
  if not jobId then
    return 0
  end
  return activate(q.base, jobId, q.token, q.lockMs, now, q.priority)
end
