-- moveToFinishedBatch: what moveToFinished does, for several jobs, then what
-- moveToActive does, for idle workers, in one call (docs/bullmq.md §4.6). Each
-- job is finished, and its next job fetched, exactly as one moveToFinished call
-- would, in the order given; then up to #tokens more jobs are taken as that many
-- moveToActive calls would take them. Only the per-call costs (script start, meta
-- read, stream trim, delayed promotion for the same `now`) are paid once.
-- @key wait             queue
-- @key active           queue
-- @key prioritized      queue
-- @key events           queue
-- @key stalled          queue
-- @key limiter          queue
-- @key delayed          queue
-- @key paused           queue
-- @key meta             queue
-- @key pc               queue
-- @key marker           queue
-- @arg prefix           base
-- @arg now              int     now (ms) for the extra fetches
-- @arg fetch            bin     msgpack { tokens = [token, ...], lockDuration, limiter?, name? }: take up to #tokens more jobs, one per token; "" for none
-- @each job
-- @qkeys completed failed metrics:completed metrics:failed
-- @key setKey           key     the completed or failed set
-- @key jobKey           key     the job's hash
-- @key metricsKey       key     metrics:completed or metrics:failed
-- @arg jobId            str
-- @arg now              int     now (ms), becomes finishedOn
-- @arg valueField       str
-- @arg value            str
-- @arg target           str
-- @arg fetchNext        str
-- @arg opts             bin     as moveToFinished's
-- @arg fields           bin     as moveToFinished's
-- Reply: an array with each job's moveToFinished reply, in order, then one
-- moveToActive reply per extra job taken, ending with the first one that took
-- none (if any). A job whose finish raises (a corrupt parent field, a key of the
-- wrong type) gets that error as its element, and the jobs after it are still
-- finished: what it wrote before the error stays, as when moveToFinished raises
-- for one job, and the jobs before it were finished for good, so failing the
-- whole call would report them as not finished.

-- How the batch saves work (what it leaves is what the calls one by one would leave):
--  * Plain jobs (no parent, no deduplication, no trim of the finished set, no rate limit,
--    nothing delayed due, no legacy id in wait) take the fast path below. It is written out in
--    one function, without the shared helpers: every table, closure and captured variable is
--    built again on each call and costs about as much as a small Redis command. Everything
--    else goes to the shared implementation (the `finish` include, §4.5), built on first use,
--    after the writes gathered so far are sent.
--  * Read once: the locks (one MGET), whether a completing job has children (one EXISTS; in
--    the usual case none), whether `stalled` has members (SCARD), whether anything delayed is
--    due by the latest `now` of the call.
--  * Gathered and sent once: the lock DELs, the SREMs from `stalled`, the ZADDs to a finished
--    set, the jobs taken from `wait` (one LRANGE, then LTRIM + LPUSH, which leaves what one
--    RPOPLPUSH per job leaves); the "0" marker is written once. What reads a key with gathered
--    writes sends them first (lengths of wait/active, prioritized jobs, the shared
--    implementation, a job id that is both fetched and finished in the call), and the first
--    write to a finished set goes out at once, so that a key of the wrong type raises where
--    the calls one by one would raise.

local rcall = redis.call
local KEYS, ARGV = KEYS, ARGV
local prefix = ARGV[1]
local n = (#ARGV - 3) / 8
-- KEYS: 1 wait, 2 active, 3 prioritized, 4 events, 5 stalled, 6 limiter, 7 delayed, 8 paused,
-- 9 meta, 10 pc, 11 marker

-- The shared implementation, for what the fast path leaves to it.
local function loadShared()
--@include finish
  return { finishJob = finishJob, takeNextJob = takeNextJob, metaSnapshot = metaSnapshot,
    trimmedStreams = trimmedStreams, promotedUpTo = promotedUpTo }
end

-- Per job s (1..n), in one presized array: [s] its lock key, [n+s] its options, [2n+s] its
-- token when the options are shared with other jobs, then the children keys of the completing
-- jobs (from 3n+1).
local S = { false, false, false, false, false, false, false, false, false, false, false, false,
  false, false, false, false, false, false, false, false, false, false, false, false, false,
  false, false, false, false, false, false, false, false, false, false, false, false, false,
  false, false, false, false, false, false, false, false, false, false }
local held = nil              -- MGET of the locks: token, false (read it), 0 (deleted here)
local trustHeld = true        -- no job id twice, nothing else wrote a lock of the batch
local delLo, delHi, delGap = nil, 0, false -- jobs whose lock DEL is gathered
local stalledFull = nil       -- SCARD stalled > 0 (nil: not read yet)
local srem, nSrem = nil, 0    -- ids to SREM from stalled
local zKey, zAdds, nZ = nil, nil, 0 -- gathered ZADD (score, id, ...) to zKey
local zOk1, zOk2 = nil, nil   -- finished sets a ZADD went through
local tail, tailAt, tailAll, nPop = nil, 0, false, 0 -- LRANGE of wait's tail: next id to take
                              -- tail[tailAt], taken ones after it; tailAll: wait has no more
local activeOk = false        -- `active` is a list or absent (a command on it went through)
local popHint = 1             -- how many more jobs the call may take
local depsAbsent = false      -- no children key of a completing job exists
local promotedUpTo, maxNow = nil, nil -- nothing delayed is due up to promotedUpTo
local markerDone = false
local meta, trimmed, lib, q = nil, false, nil, nil -- meta: the fields of gate's readMeta, in
                              -- its order (lib is handed this snapshot)
local lastNow, lastPlain, lastNum = nil, false, nil -- is `now` a plain ms timestamp
local ldNum, ldText = nil, nil -- lockDuration and its text
local keepOpts, keepCount, keepFast = nil, nil, false -- the last options' keepJobs
local replies = { false, false, false, false, false, false, false, false, false, false, false,
  false, false, false, false, false } -- presized; what is left over is cleared at the end
local nReplies = 0
local idSet = nil             -- the batch's job ids (a set when there are more than a few)
local fetchOpts = nil         -- ARGV[3] unpacked (when it unpacks to options with tokens)
-- Number arguments are printed by Redis with "%.17g", a costly printf: small negative indexes are
-- passed as text, and the delayed scores as "%d" (the same text below 1e17).
local NEG = { "-1", "-2", "-3", "-4", "-5", "-6", "-7", "-8", "-9", "-10", "-11", "-12", "-13",
  "-14", "-15", "-16" }

-- step(s): finish job s (1..n) as moveToFinished would, with its fetch-next.
-- step(0, now, wopts): take a job as moveToActive would (nil if none).
-- step(-1): send the gathered writes (step(-1, true): the jobs taken from wait only).
-- step(-2, name, ...): call lib's `name`. step(-3): the
-- end of a finish that took no job (the "drained" check). step(-4): the extra fetches.
local function step(s, ...)
  if s == -4 then
    -- idle workers: one moveToActive per token, until one finds no job
    local wopts = fetchOpts or cmsgpack.unpack(ARGV[3])
    local tokens = wopts["tokens"]
    for t = 1, #tokens do
      popHint = #tokens - t + 1
      wopts["token"] = tokens[t]
      local r = step(0, ARGV[2], wopts) or { 0, 0, 0, 0 }
      nReplies = nReplies + 1
      replies[nReplies] = r
      if type(r[1]) ~= "table" then break end
    end
    return
  end
  if s == -1 then
    if nPop > 0 then
      local lo, hi = tailAt + 1, tailAt + nPop
      while lo < hi do -- in place, into the order they were taken (LPUSH order)
        tail[lo], tail[hi] = tail[hi], tail[lo]
        lo, hi = lo + 1, hi - 1
      end
      rcall("LTRIM", KEYS[1], "0", NEG[nPop + 1] or -(nPop + 1))
      for a = tailAt + 1, tailAt + nPop, 7000 do
        rcall("LPUSH", KEYS[2], unpack(tail, a, math.min(a + 6999, tailAt + nPop)))
      end
      nPop = 0
    end
    if ... then return end
    if delLo then
      if delGap then
        local keys, c = {}, 0
        for j = delLo, delHi do
          if held[j] == 0 then c = c + 1; keys[c] = S[j] end
        end
        for a = 1, c, 7000 do rcall("DEL", unpack(keys, a, math.min(a + 6999, c))) end
      else
        for a = delLo, delHi, 7000 do rcall("DEL", unpack(S, a, math.min(a + 6999, delHi))) end
      end
      delLo, delGap = nil, false
    end
    if nSrem > 0 then
      for a = 1, nSrem, 7000 do rcall("SREM", KEYS[5], unpack(srem, a, math.min(a + 6999, nSrem))) end
      nSrem = 0
    end
    if nZ > 0 then
      for a = 1, nZ, 7000 do rcall("ZADD", zKey, unpack(zAdds, a, math.min(a + 6999, nZ))) end
      nZ = 0
    end
    return
  end
  if s == -2 then
    step(-1)
    if not lib then lib = loadShared() end
    if not q then
      q = { wait = KEYS[1], active = KEYS[2], prioritized = KEYS[3], events = KEYS[4],
        stalled = KEYS[5], limiter = KEYS[6], delayed = KEYS[7], paused = KEYS[8],
        meta = KEYS[9], pc = KEYS[10], marker = KEYS[11] }
    end
    if meta then lib.metaSnapshot[KEYS[9]] = meta end
    if trimmed then lib.trimmedStreams[KEYS[4]] = true end
    local name, a1, a2, a3, a4 = ...
    local ok, r = pcall(lib[name], q, prefix, a1, a2, a3, a4)
    -- what lib may have changed: locks, wait and active, delayed
    meta = lib.metaSnapshot[KEYS[9]] or meta
    trimmed = trimmed or lib.trimmedStreams[KEYS[4]] == true
    lib.promotedUpTo[KEYS[7]] = nil
    promotedUpTo, depsAbsent, trustHeld = nil, false, false
    tail, tailAt, tailAll = nil, 0, false
    if not ok then error(r, 0) end
    return r
  end
  if s == -3 then
    step(-1, true)
    if rcall("LLEN", KEYS[1]) == 0 and rcall("LLEN", KEYS[2]) == 0
        and rcall("ZCARD", KEYS[3]) == 0 then
      rcall("XADD", KEYS[4], "*", "event", "drained")
    end
    return 0
  end

  local now, wopts, fromFinish
  if s > 0 then
    -- finishJob (§4.5)
    local a = 8 * s - 4
    local jobId, valueField, value, target = ARGV[a], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
    now = ARGV[a + 1]
    local jobKey = KEYS[3 * s + 10]
    if now ~= lastNow then
      lastNow, lastPlain = now, #now > 0 and #now <= 15 and not string.find(now, "%D")
      lastNum = lastPlain and tonumber(now)
    end
    local o = S[n + s]
    local attrs
    if o and lastPlain then
      if S[2 * n + s] then o["token"] = S[2 * n + s] end
      attrs = rcall("HMGET", jobKey, "parentKey", "parent", "deid", "atm", "timestamp")
      if attrs[5] == false and rcall("EXISTS", jobKey) == 0 then return -1 end
    end
    if o ~= keepOpts then
      -- keepJobs the fast path handles: no trim (count -1, 0 or none, no age)
      keepOpts = o
      local keep = o and o["keepJobs"]
      keepCount = type(keep) == "table" and keep["count"]
      keepFast = keepCount ~= false and keep["age"] == nil
        and (keepCount == nil or (type(keepCount) == "number" and keepCount <= 0))
    end
    local keepCount = keepCount
    if not attrs or attrs[1] or attrs[2] or attrs[3] or not keepFast then
      -- a parent, a deduplication id, a trim of the finished set, odd options: lib's
      return step(-2, "finishJob", { jobId = jobId, now = now, valueField = valueField,
        value = value, target = target, fetchNext = ARGV[a + 5], opts = ARGV[a + 6],
        fields = ARGV[a + 7], setKey = KEYS[3 * s + 9], jobKey = jobKey,
        metricsKey = KEYS[3 * s + 11] })
    end
    local completing = target == "completed"
    if completing and not depsAbsent
        and rcall("EXISTS", jobKey .. ":dependencies", jobKey .. ":unsuccessful") > 0 then
      if rcall("SCARD", jobKey .. ":dependencies") ~= 0 then return -4 end
      if rcall("ZCARD", jobKey .. ":unsuccessful") ~= 0 then return -9 end
    end

    -- the lock: its DEL and SREM gathered
    local token = o["token"]
    if token ~= "0" then
      local holder = trustHeld and held[s]
      if holder == 0 then
        holder = false
      elseif not holder then
        if not trustHeld and delLo then step(-1) end
        holder = rcall("GET", S[s])
      end
      if holder ~= token then
        if holder then return -6 end
        return -2
      end
      held[s] = 0
      if not delLo then
        delLo = s
      elseif delHi < s - 1 then
        delGap = true
      end
      delHi = s
      if stalledFull == nil then stalledFull = rcall("SCARD", KEYS[5]) > 0 end
      if stalledFull then
        if not srem then srem = {} end
        nSrem = nSrem + 1
        srem[nSrem] = jobId
      end
    end

    local fields = ARGV[a + 7]
    if #fields > 0 then
      local flat = cmsgpack.unpack(fields)
      if flat and #flat > 0 then
        rcall("HMSET", jobKey, unpack(flat))
      end
    end

    if rcall("LREM", KEYS[2], "-1", jobId) < 1 then return -3 end
    activeOk = true

    if not trimmed then
      trimmed = true
      if not meta then
        meta = rcall("HMGET", KEYS[9], "paused", "concurrency", "max", "duration", "opts.maxLenEvents",
          "version")
      end
      local cap = meta[5]
      if not cap then
        cap = 10000
        rcall("HSET", KEYS[9], "opts.maxLenEvents", cap)
        meta[5] = cap
      end
      rcall("XTRIM", KEYS[4], "MAXLEN", "~", cap)
    end

    local attemptsMade = 1
    if attrs[4] then attemptsMade = (tonumber(attrs[4]) or 0) + 1 end
    if keepCount ~= 0 then
      local setKey = KEYS[3 * s + 9]
      if setKey == zOk1 or setKey == zOk2 then
        if setKey ~= zKey then
          if nZ > 0 then step(-1) end
          zKey = setKey
        end
        if not zAdds then
          zAdds = { false, false, false, false, false, false, false, false, false, false,
            false, false, false, false, false, false }
        end
        zAdds[nZ + 1] = now
        zAdds[nZ + 2] = jobId
        nZ = nZ + 2
      else
        if nZ > 0 and setKey == zKey then step(-1) end
        rcall("ZADD", setKey, now, jobId)
        if zOk1 then zOk2 = setKey else zOk1 = setKey end
      end
      rcall("HSET", jobKey, "atm", attemptsMade == 1 and "1" or attemptsMade, valueField, value,
        "finishedOn", now)
      if not completing then rcall("HDEL", jobKey, "defa") end
    else
      rcall("DEL", jobKey, jobKey .. ":logs", jobKey .. ":dependencies", jobKey .. ":processed",
        jobKey .. ":failed", jobKey .. ":unsuccessful")
    end

    rcall("XADD", KEYS[4], "*", "event", target, "jobId", jobId, valueField, value, "prev", "active")
    if not completing and attemptsMade >= (tonumber(o["attempts"]) or 0) then
      rcall("XADD", KEYS[4], "*", "event", "retries-exhausted", "jobId", jobId,
        "attemptsMade", attemptsMade)
    end

    local maxPoints = o["maxMetricsSize"]
    if maxPoints ~= nil and maxPoints ~= "" then
      -- recordMetric (§8.4)
      local metricsKey = KEYS[3 * s + 11]
      local before = rcall("HINCRBY", metricsKey, "count", 1) - 1
      local lastTs = rcall("HGET", metricsKey, "prevTS")
      if not lastTs then
        rcall("HSET", metricsKey, "prevTS", now, "prevCount", 0)
      else
        local minutes = math.min(math.floor(now / 60000) - math.floor(lastTs / 60000), tonumber(maxPoints))
        if minutes > 0 then
          local dataKey = metricsKey .. ":data"
          local points = { before - rcall("HGET", metricsKey, "prevCount") }
          for i = 2, minutes do points[i] = 0 end
          for b = 1, #points, 7000 do
            rcall("LPUSH", dataKey, unpack(points, b, math.min(b + 6999, #points)))
          end
          rcall("LTRIM", dataKey, 0, maxPoints - 1)
          rcall("HSET", metricsKey, "prevCount", before, "prevTS", now)
        end
      end
    end

    if ARGV[a + 5] ~= "1" then return step(-3) end
    wopts, fromFinish = o, true
  else
    now, wopts = ...
    fromFinish = false
    if now ~= lastNow then
      lastNow, lastPlain = now, #now > 0 and #now <= 15 and not string.find(now, "%D")
      lastNum = lastPlain and tonumber(now)
    end
    if not lastPlain then return step(-2, "takeNextJob", now, wopts, false) end
  end

  -- takeNextJob (§4.4)
  if not meta then
    meta = rcall("HMGET", KEYS[9], "paused", "concurrency", "max", "duration", "opts.maxLenEvents",
      "version")
  end
  local blocked = meta[1] ~= false
  if not blocked and meta[2] then
    step(-1, true)
    blocked = rcall("LLEN", KEYS[2]) >= tonumber(meta[2])
  end
  local delegate = false
  if not (promotedUpTo and lastNum <= promotedUpTo) then
    if maxNow and lastNum <= maxNow then
      -- once: is anything due by the latest `now` of the call?
      local top = (maxNow + 1) * 0x1000 - 1
      if top < 1e17 then top = string.format("%d", top) end
      local due = rcall("ZRANGEBYSCORE", KEYS[7], "0", top, "LIMIT", "0", "1")
      if #due == 0 then promotedUpTo = maxNow end
      maxNow = nil
    end
    if not (promotedUpTo and lastNum <= promotedUpTo) then
      local top = (now + 1) * 0x1000 - 1
      if top < 1e17 then top = string.format("%d", top) end
      local due = rcall("ZRANGEBYSCORE", KEYS[7], "0", top, "LIMIT", "0", "1000")
      if #due > 0 then delegate = true else promotedUpTo = lastNum end
    end
  end
  if delegate or wopts["limiter"] ~= nil or meta[3] then
    -- promotion or a rate limit: lib's
    local r = step(-2, "takeNextJob", now, wopts, fromFinish)
    if r or s == 0 then return r end
    return step(-3)
  end
  if blocked then return { 0, 0, 0, 0 } end

  -- RPOPLPUSH wait active, gathered
  local jobId
  if tailAt == 0 and not tailAll then
    if nPop > 0 then step(-1) end
    local want = popHint > 0 and popHint or 1
    tail = rcall("LRANGE", KEYS[1], NEG[want] or -want, "-1")
    tailAt = #tail
    tailAll = tailAt < want
    if tailAt > 0 and not activeOk then
      rcall("LLEN", KEYS[2]) -- raises where RPOPLPUSH would if `active` is not a list
      activeOk = true
    end
  end
  if tailAt > 0 then
    jobId = tail[tailAt]
    local c1, c2 = string.byte(jobId, 1, 2)
    if c1 == 48 and c2 == 58 then
      -- a legacy "0:" id: lib's rules
      local r = step(-2, "takeNextJob", now, wopts, fromFinish)
      if r or s == 0 then return r end
      return step(-3)
    end
    tailAt = tailAt - 1
    nPop = nPop + 1
    popHint = popHint - 1
  else
    -- wait is empty: prioritized next, pushed to active after the ones taken so far
    step(-1, true)
    local top = rcall("ZPOPMIN", KEYS[3])
    if top[1] then
      jobId = top[1]
      rcall("LPUSH", KEYS[2], jobId)
      activeOk = true
    else
      rcall("DEL", KEYS[10])
      local head = rcall("ZRANGE", KEYS[7], 0, 0, "WITHSCORES")
      local score = tonumber(head[2])
      if score ~= nil then return { 0, 0, 0, score / 0x1000 } end
      if s > 0 then return step(-3) end
      return nil
    end
  end
  -- a job of this batch taken again: its lock and place in active are no longer what was read
  local again = false
  if idSet then
    again = idSet[jobId]
  else
    for r = 1, n do
      if ARGV[8 * r - 4] == jobId then again = true end
    end
  end
  if again then
    step(-1)
    trustHeld = false
  end

  -- beginJob: lock, event, processedOn/pb/ats+1 in one HSET, the hash patched to match
  local jobKey = prefix .. jobId
  local token = wopts["token"]
  if token ~= "0" then
    local ld = wopts["lockDuration"]
    if ld ~= ldNum then
      ldNum, ldText = ld, ld
      if type(ld) == "number" and ld == math.floor(ld) and ld > 0 and ld < 1e15 then
        ldText = string.format("%d", ld)
      end
    end
    rcall("SET", jobKey .. ":lock", token, "PX", ldText)
  end
  rcall("XADD", KEYS[4], "*", "event", "active", "jobId", jobId, "prev", "waiting")
  local hash = rcall("HGETALL", jobKey)
  local nh = #hash
  local atsAt, onAt, pbAt
  for i = 1, nh, 2 do
    local f = hash[i]
    if f == "ats" then
      atsAt = i + 1
    elseif f == "processedOn" then
      onAt = i + 1
    elseif f == "pb" then
      pbAt = i + 1
    end
  end
  local ats, atsText = "1", "1"
  if atsAt then
    ats = (tonumber(hash[atsAt]) or 0) + 1
    atsText = tostring(ats)
  end
  local name = wopts["name"]
  if name then
    rcall("HSET", jobKey, "processedOn", now, "pb", name, "ats", ats)
  else
    rcall("HSET", jobKey, "processedOn", now, "ats", ats)
  end
  if onAt then hash[onAt] = now else hash[nh + 1] = "processedOn"; hash[nh + 2] = now; nh = nh + 2 end
  if name then
    if pbAt then hash[pbAt] = name else hash[nh + 1] = "pb"; hash[nh + 2] = name; nh = nh + 2 end
  end
  if atsAt then hash[atsAt] = atsText else hash[nh + 1] = "ats"; hash[nh + 2] = atsText end
  if not markerDone then
    rcall("ZADD", KEYS[11], "0", "0")
    markerDone = true
  end
  return { hash, jobId, 0, 0 }
end

-- Up front: each job's options (one that does not unpack is left to lib, which raises where
-- moveToFinished does), lock key and children keys, and the latest `now` of the fetches.
-- The workers' options differ from job to job by the token alone, which comes first: a map
-- whose bytes after the token match the last one unpacked is that map with this token (the
-- first unpack checks that the token is there once, as the bytes say).
local ntokens = 0
if ARGV[3] ~= "" then
  local ok, w = pcall(cmsgpack.unpack, ARGV[3])
  if ok and type(w) == "table" and type(w["tokens"]) == "table" then
    ntokens = #w["tokens"]
    fetchOpts = w
  end
  local now = ARGV[2]
  if ntokens > 0 and #now > 0 and #now <= 15 and not string.find(now, "%D") then
    maxNow = tonumber(now)
  end
end
local fetches, nDeps = ntokens, 0
if n > 4 then idSet = {} end
local lastHead, lastRest, lastOpts = nil, nil, nil
for s = 1, n do
  local a = 8 * s - 4
  local jobKey = KEYS[3 * s + 10]
  S[s] = jobKey .. ":lock"
  local packed = ARGV[a + 6]
  local o, token, rest, head
  local m, k, t, o1, k1, e, n1, h = string.byte(packed, 1, 8)
  if h and m >= 0x80 and m <= 0x8f and k == 0xa5 and t == 116 and o1 == 111 and k1 == 107
      and e == 101 and n1 == 110 then
    local from, len = 9, nil
    if h >= 0xa0 and h <= 0xbf then
      len = h - 0xa0
    elseif h == 0xd9 then
      len, from = string.byte(packed, 9), 10
    end
    if len then
      token = string.sub(packed, from, from + len - 1)
      rest = string.sub(packed, from + len)
      head = m
      if rest == lastRest and head == lastHead then
        o = lastOpts
        S[2 * n + s] = token
      end
    end
  end
  if not o then
    local ok, u = pcall(cmsgpack.unpack, packed)
    if ok and type(u) == "table" then
      o = u
      if rest and u["token"] == token and not string.find(rest, "token", 1, true) then
        lastHead, lastRest, lastOpts = head, rest, u
        S[2 * n + s] = token
      end
    end
  end
  S[n + s] = o or false
  if ARGV[a + 4] == "completed" then
    S[3 * n + nDeps + 1] = jobKey .. ":dependencies"
    S[3 * n + nDeps + 2] = jobKey .. ":unsuccessful"
    nDeps = nDeps + 2
  end
  if ARGV[a + 5] == "1" then
    fetches = fetches + 1
    local now = ARGV[a + 1]
    if now ~= lastNow then
      lastNow, lastPlain = now, #now > 0 and #now <= 15 and not string.find(now, "%D")
      lastNum = lastPlain and tonumber(now)
      if lastPlain and (maxNow == nil or lastNum > maxNow) then maxNow = lastNum end
    end
  end
  -- a job id given twice: the locks read up front do not follow the first one's finish
  local id = ARGV[a]
  if idSet then
    if idSet[id] then trustHeld = false end
    idSet[id] = true
  else
    for r = 1, s - 1 do
      if ARGV[8 * r - 4] == id then trustHeld = false end
    end
  end
end
if n > 0 and n <= 7000 then
  held = rcall("MGET", unpack(S, 1, n))
else
  held, trustHeld = {}, false
end
if nDeps > 0 then
  local found = 0
  for a = 3 * n + 1, 3 * n + nDeps, 7000 do
    found = found + rcall("EXISTS", unpack(S, a, math.min(a + 6999, 3 * n + nDeps)))
  end
  depsAbsent = found == 0
end

for s = 1, n do
  popHint = fetches
  if ARGV[8 * s + 1] == "1" then fetches = fetches - 1 end
  local ok, r = pcall(step, s)
  if not ok then
    -- redis.call raises a table {err = text}; other Lua errors are strings
    r = redis.error_reply(type(r) == "table" and tostring(r.err) or tostring(r))
  end
  replies[s] = r
end
nReplies = n

-- The extra fetches; an error ends the call as it would have, after the gathered writes.
local ok, err = true, nil
if ARGV[3] ~= "" then ok, err = pcall(step, -4) end
step(-1)
if not ok then error(err, 0) end
for i = nReplies + 1, 16 do replies[i] = nil end
return replies
