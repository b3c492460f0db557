-- fetch: hand the next ready job to a worker (moveToActive and the
-- fetch-next step of moveToFinished / moveToDelayed).
--@include core
--@include gate
--@include enqueue
--@include promote

-- Remaining ms of the rate-limit window when the limiter is full, else 0.
local function limiterWait(maxJobs, limiterKey)
  if maxJobs and maxJobs <= tonumber(rcall("GET", limiterKey) or 0) then
    local left = rcall("PTTL", limiterKey)
    if left == 0 then rcall("DEL", limiterKey) end
    if left > 0 then return left end
  end
  return 0
end

-- Lock the job for the worker and record the start of this attempt.
-- wopts = { token, lockDuration, limiter?, name? } (msgpack from the worker).
local function beginJob(q, prefix, jobId, now, maxJobs, windowMs, wopts)
  local jobKey = prefix .. jobId
  -- Jobs that will only be failed (deferred failure) are not rate limited by
  -- 6.x; 5.x counts them too (docs/bullmq.md §9.3).
  if maxJobs and (not isV6Queue(q.meta) or rcall("HEXISTS", jobKey, "defa") == 0) then
    if rcall("INCR", q.limiter) == 1 then
      rcall("PEXPIRE", q.limiter, math.floor(math.abs(windowMs)))
    end
  end
  if wopts["token"] ~= "0" then
    rcall("SET", jobKey .. ":lock", wopts["token"], "PX", wopts["lockDuration"])
  end
  rcall("XADD", q.events, "*", "event", "active", "jobId", jobId, "prev", "waiting")
  -- Read the hash first, then write processedOn, pb and ats+1 in one HSET (the same fields,
  -- values and insertion order as HSET processedOn [pb] + HINCRBY ats), and patch the reply
  -- so the worker sees the hash as it is now.
  local hash = rcall("HGETALL", jobKey)
  local ats, atsAt, onAt, pbAt = 1, nil, nil, nil
  for i = 1, #hash, 2 do
    local f = hash[i]
    if f == "ats" then
      ats, atsAt = (tonumber(hash[i + 1]) or 0) + 1, i + 1
    elseif f == "processedOn" then
      onAt = i + 1
    elseif f == "pb" then
      pbAt = i + 1
    end
  end
  local name = wopts["name"]
  if name then
    rcall("HSET", jobKey, "processedOn", now, "pb", name, "ats", ats)
  else
    rcall("HSET", jobKey, "processedOn", now, "ats", ats)
  end
  local function patch(at, field, value)
    if at then
      hash[at] = value
    else
      hash[#hash + 1] = field
      hash[#hash + 1] = value
    end
  end
  patch(onAt, "processedOn", tostring(now))
  if name then patch(pbAt, "pb", name) end
  patch(atsAt, "ats", tostring(ats))
  -- Chain-wake the next blocked worker.
  rcall("ZADD", q.marker, 0, "0")
  return { hash, jobId, 0, 0 }
end

local function popPrioritized(q)
  local top = rcall("ZPOPMIN", q.prioritized)
  if top[1] then
    rcall("LPUSH", q.active, top[1])
    return top[1]
  end
  rcall("DEL", q.pc)
  return nil
end

-- Returns a next-job reply ([hash,id,0,0], [0,0,ttl,0], [0,0,0,0] when
-- paused/maxed, [0,0,0,due] when only delayed jobs remain) or nil when there
-- is nothing at all.
-- fromFinish = true reproduces how the fetch-next step treats a legacy
-- "0:<n>" id at the head of wait: it is dropped and ends this fetch, except
-- "0:0", which means "take from prioritized". moveToActive (fromFinish =
-- false) drops one legacy id and pops again.
local function takeNextJob(q, prefix, now, wopts, fromFinish)
  local gate = readGate(q.meta, q.active)
  promoteDueJobs(q, gate, prefix, now)

  local lim = wopts["limiter"]
  local maxJobs = tonumber(gate.max or (lim and lim["max"]))
  local wait = limiterWait(maxJobs, q.limiter)
  if wait > 0 then return { 0, 0, wait, 0 } end
  if gate.blocked then return { 0, 0, 0, 0 } end
  local windowMs = (lim and lim["duration"]) or gate.duration

  local jobId = rcall("RPOPLPUSH", q.wait, q.active)
  if jobId and isLegacyMarkerId(jobId) then
    rcall("LREM", q.active, 1, jobId)
    if not fromFinish then
      jobId = rcall("RPOPLPUSH", q.wait, q.active)
    elseif jobId == "0:0" then
      jobId = popPrioritized(q)
      if not jobId then return nil end
      return beginJob(q, prefix, jobId, now, maxJobs, windowMs, wopts)
    else
      jobId = nil
      local due = earliestDelayedDue(q.delayed)
      if due ~= nil then return { 0, 0, 0, due } end
      return nil
    end
  end
  if not jobId then jobId = popPrioritized(q) end
  if jobId then
    return beginJob(q, prefix, jobId, now, maxJobs, windowMs, wopts)
  end

  local due = earliestDelayedDue(q.delayed)
  if due ~= nil then return { 0, 0, 0, due } end
  return nil
end
