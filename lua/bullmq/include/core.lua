-- core: shared basics for every libbullc script (redis.call alias, key
-- helpers, lock release, field updates).
local rcall = redis.call

-- Key names of one queue, from its prefix with the trailing colon
-- ("<prefix>:<queue>:").
local function queueKeysOf(base)
  return {
    wait = base .. "wait", paused = base .. "paused", active = base .. "active",
    meta = base .. "meta", marker = base .. "marker", events = base .. "events",
    prioritized = base .. "prioritized", pc = base .. "pc",
    delayed = base .. "delayed", limiter = base .. "limiter",
    waitingChildren = base .. "waiting-children", failed = base .. "failed",
  }
end

-- Last ':'-separated segment of a job key is taken as the job id; what is
-- before it (colon included) is the queue prefix.
local function splitJobKey(jobKey)
  local id = string.match(jobKey, ".*:(.*)")
  return id, string.sub(jobKey, 1, #jobKey - #id)
end

-- Pre-v5 workers left fake ids "0:<n>" in wait/active as wake-up markers.
local function isLegacyMarkerId(id)
  return string.sub(id, 1, 2) == "0:"
end

-- Release the lock of a job owned by `token` ("0" = unlocked call).
-- Returns 0, or -2 (no lock) / -6 (someone else's lock).
local function releaseJobLock(jobKey, stalledKey, token, jobId)
  if token == "0" then return 0 end
  local lockKey = jobKey .. ":lock"
  local holder = rcall("GET", lockKey)
  if holder == token then
    rcall("DEL", lockKey)
    rcall("SREM", stalledKey, jobId)
    return 0
  end
  if holder then return -6 end
  return -2
end

-- HMSET a msgpacked flat [field, value, ...] array onto the job ("" = none).
local function applyPackedFields(jobKey, packed)
  if packed == nil or #packed == 0 then return end
  local flat = cmsgpack.unpack(packed)
  if flat and #flat > 0 then
    rcall("HMSET", jobKey, unpack(flat))
  end
end

-- Iterate 1..n in chunks of at most `size` (variadic commands are capped).
local function eachChunk(n, size, fn)
  local first = 1
  while first <= n do
    local last = math.min(first + size - 1, n)
    fn(first, last)
    first = last + 1
  end
end
