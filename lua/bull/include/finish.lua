-- Finishing one job, as moveToFinished does it (docs/bull.md §4.3); moveToFinished.lua and
-- moveToFinishedBatch.lua both call it. The queue's keys (stalled and priority may be false,
-- see releaseLock and activate) and the worker's values come first, then the job's arguments,
-- all as moveToFinished's header declares them (positional: a table per call costs more).
-- Returns the reply moveToFinished gives.
--@include lock
--@include keep
--@include activate
--@include metrics

local function finishJob(activeKey, waitKey, priorityKey, stalledKey, base, token, lockMs,
                         target, jobKey, metricsKey, jobId, now, valueField, value, keepRule,
                         event, fetchNext, fields, maxMetrics)
  local rc = leaveActive(jobKey, activeKey, stalledKey, token, jobId, fields)
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
    local nextId = redis.call("RPOPLPUSH", waitKey, activeKey)
    if nextId then
      return activate(base, nextId, token, lockMs, now, priorityKey)
    end
  end
  return 0
end
