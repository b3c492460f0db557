-- retention: deleting finished jobs (removeOnComplete / removeOnFail).
--@include core
--@include parents

local function deleteJobKeys(jobKey)
  rcall("DEL", jobKey, jobKey .. ":logs", jobKey .. ":dependencies",
    jobKey .. ":processed", jobKey .. ":failed", jobKey .. ":unsuccessful")
end

local function deleteFinishedJob(prefix, jobId)
  local jobKey = prefix .. jobId
  unlinkFromParent(jobKey, nil)
  deleteJobKeys(jobKey)
end

-- Remove up to `limit` jobs finished before now - ageSec seconds.
local function trimFinishedByAge(setKey, prefix, now, ageSec, limit)
  local cutoff = now - ageSec * 1000
  local old = rcall("ZREVRANGEBYSCORE", setKey, cutoff, "-inf", "LIMIT", 0, limit)
  if #old == 0 then return end
  for _, id in ipairs(old) do deleteFinishedJob(prefix, id) end
  if #old < limit then
    rcall("ZREMRANGEBYSCORE", setKey, "-inf", cutoff)
  else
    eachChunk(#old, 7000, function(a, b) rcall("ZREM", setKey, unpack(old, a, b)) end)
  end
end

-- Keep only the newest `keep` jobs.
local function trimFinishedByCount(setKey, prefix, keep)
  local extra = rcall("ZREVRANGE", setKey, keep, -1)
  for _, id in ipairs(extra) do deleteFinishedJob(prefix, id) end
  rcall("ZREMRANGEBYRANK", setKey, 0, -(keep + 1))
end
