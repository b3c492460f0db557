-- admin: what the queue-administration scripts share: taking jobs out of the
-- queue with or without a trace (docs/bullmq.md "Admin operations").
--@include core
--@include events
--@include gate
--@include enqueue
--@include retention

-- Deletes the job's keys; the number of keys that existed.
local function dropJobKeys(jobKey)
  return rcall("DEL", jobKey, jobKey .. ":logs", jobKey .. ":dependencies",
    jobKey .. ":processed", jobKey .. ":failed", jobKey .. ":unsuccessful")
end

-- The deduplication key goes with the job only while it still names it.
local function dropDedupOf(base, jobKey, jobId)
  local de = rcall("HGET", jobKey, "deid")
  if de and rcall("GET", base .. "de:" .. de) == jobId then
    rcall("DEL", base .. "de:" .. de, base .. "dn:" .. de)
  end
end

-- Is this the pending iteration of a job scheduler? Those stay (drain, clean).
local function isSchedulerIteration(base, jobId)
  local rjk = rcall("HGET", base .. jobId, "rjk")
  if not rjk then return false end
  local millis = rcall("ZSCORE", base .. "repeat", rjk)
  return millis ~= false and millis ~= nil and jobId == "repeat:" .. rjk .. ":" .. millis
end

-- A job deleted without an event (drain, clean, obliterate): its parent
-- loses the dependency; a parent left with none and waiting for children is
-- deleted too when it lives in the same queue, else made ready (no event).
local function unlinkQuietly(jobKey, base)
  local f = rcall("HMGET", jobKey, "parentKey", "deid")
  local pk = f[1]
  if not pk or pk == "" or rcall("EXISTS", pk) == 0 then return end
  local deps = pk .. ":dependencies"
  if rcall("SREM", deps, jobKey) == 0 or rcall("SCARD", deps) > 0 then return end
  local pid, pbase = splitJobKey(pk)
  if rcall("ZREM", pbase .. "waiting-children", pid) == 0 then return end
  if pbase == base then
    unlinkQuietly(pk, base)
    dropJobKeys(pk)
    if f[2] then rcall("DEL", pbase .. "de:" .. f[2]) end
  else
    local pq = queueKeysOf(pbase)
    pushReady(pq, readGate(pq.meta, pq.active), "RPUSH", pid)
  end
end

local function dropJobQuietly(base, jobId)
  local jobKey = base .. jobId
  unlinkQuietly(jobKey, base)
  dropDedupOf(base, jobKey, jobId)
  dropJobKeys(jobKey)
end

-- Quietly drops every job of a list or zset (except scheduler iterations
-- when keepScheduled) and empties it accordingly.
local function dropAllIn(key, isList, base, keepScheduled)
  local ids = isList and rcall("LRANGE", key, 0, -1) or rcall("ZRANGE", key, 0, -1)
  local gone = {}
  for _, id in ipairs(ids) do
    if not (keepScheduled and isSchedulerIteration(base, id)) then
      dropJobQuietly(base, id)
      gone[#gone + 1] = id
    end
  end
  if isList then
    rcall("LTRIM", key, #gone, -1)
  else
    eachChunk(#gone, 7000, function(a, b) rcall("ZREM", key, unpack(gone, a, b)) end)
  end
  return #gone
end

-- A retried child counts again among its parent's pending dependencies (the
-- parent is not moved back to waiting-children).
local function backToParentDeps(jobKey, prev)
  local pk = rcall("HGET", jobKey, "parentKey")
  if not pk or rcall("EXISTS", pk) == 0 then return end
  local was
  if prev == "failed" then
    was = rcall("ZREM", pk .. ":unsuccessful", jobKey) == 1 or
      rcall("HDEL", pk .. ":failed", jobKey) == 1
  else
    was = rcall("HDEL", pk .. ":processed", jobKey) == 1
  end
  if was then rcall("SADD", pk .. ":dependencies", jobKey) end
end
