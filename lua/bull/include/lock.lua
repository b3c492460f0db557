-- Releases the lock a finishing call holds (docs/bull.md §4): a token of "0" skips the check.
-- A stalledKey of false: the caller knows `stalled` is empty. Returns 0, or -2 (no lock) / -6
-- (another worker's lock).
local function releaseLock(jobKey, stalledKey, token, jobId)
  if token == "0" then
    return 0
  end
  local owner = redis.call("GET", jobKey .. ":lock")
  if owner == token then
    redis.call("DEL", jobKey .. ":lock")
    if stalledKey then
      redis.call("SREM", stalledKey, jobId)
    end
    return 0
  end
  if owner then
    return -6
  end
  return -2
end

-- Writes the fields a failed attempt records before the move (msgpack flat [f, v, ...], or "").
local function writeFields(jobKey, packed)
  if packed ~= "" then
    local flat = cmsgpack.unpack(packed)
    if #flat > 0 then
      redis.call("HMSET", jobKey, unpack(flat))
    end
  end
end

-- How every settle starts: the job exists, the fields of a failed attempt are recorded, the
-- worker's lock is released and the job leaves active. Returns 0, or the script's reply: -1 no
-- job, -2 no lock, -3 not active, -6 another worker's lock.
local function leaveActive(jobKey, activeKey, stalledKey, token, jobId, fields)
  if redis.call("EXISTS", jobKey) == 0 then
    return -1
  end
  writeFields(jobKey, fields)
  local rc = releaseLock(jobKey, stalledKey, token, jobId)
  if rc < 0 then
    return rc
  end
  if redis.call("LREM", activeKey, -1, jobId) < 1 then
    return -3
  end
  return 0
end
