-- Locks a job just moved to active for this worker and announces it (docs/bull.md §4):
-- the lock holds the worker's token, processedOn the start time. A priorityKey of false: the
-- caller knows `priority` is empty. Returns [hash, id].
local function activate(base, jobId, token, lockMs, now, priorityKey)
  local jobKey = base .. jobId
  redis.call("SET", jobKey .. ":lock", token, "PX", lockMs)
  if priorityKey then
    redis.call("ZREM", priorityKey, jobId)
  end
  redis.call("PUBLISH", base .. "active@" .. token, jobId)
  redis.call("HSET", jobKey, "processedOn", now)
  return { redis.call("HGETALL", jobKey), jobId }
end

-- The job a take works on (docs/bull.md §4.2): the id the blocking wait already moved to active
-- (jobId), or with jobId "" the next waiting one, moved to active here. Returns the id, or nil
-- after publishing on `drained` when nothing was waiting. stalledKey as releaseLock's.
local function claimJob(waitKey, activeKey, stalledKey, base, jobId)
  if jobId ~= "" then
    if stalledKey then
      redis.call("SREM", stalledKey, jobId)
    end
    return jobId
  end
  jobId = redis.call("RPOPLPUSH", waitKey, activeKey)
  if not jobId then
    redis.call("PUBLISH", base .. "drained", "")
  end
  return jobId
end
