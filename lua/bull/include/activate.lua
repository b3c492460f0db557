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
