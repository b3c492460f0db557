-- Where jobs ready to run go: the paused list while the queue is paused globally, else wait.
local function readyList(metaPausedKey, waitKey, pausedKey)
  if redis.call("EXISTS", metaPausedKey) == 1 then
    return pausedKey
  end
  return waitKey
end

-- Puts a job with priority p (> 0) among the ready ones: after every job of priority <= p that
-- is already waiting (they sit at the popping end), ahead of everything else (docs/bull.md §3).
local function pushPrioritized(priorityKey, list, p, jobId)
  redis.call("ZADD", priorityKey, p, jobId)
  local before = redis.call("ZCOUNT", priorityKey, 0, p)
  local len = redis.call("LLEN", list)
  local pivot = redis.call("LINDEX", list, len - (before - 1))
  if pivot then
    redis.call("LINSERT", list, "BEFORE", pivot, jobId)
  else
    redis.call("RPUSH", list, jobId)
  end
end

-- Makes a job ready again: by its stored priority, else with `pushCmd` (LPUSH runs it last,
-- RPUSH next).
local function pushReady(jobKey, priorityKey, list, pushCmd, jobId)
  local p = tonumber(redis.call("HGET", jobKey, "priority")) or 0
  if p == 0 then
    redis.call(pushCmd, list, jobId)
  else
    pushPrioritized(priorityKey, list, p, jobId)
  end
end
