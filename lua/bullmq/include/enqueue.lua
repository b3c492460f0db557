-- enqueue: making jobs ready (wait list / prioritized) or delayed, and the
-- marker zset that wakes blocked workers.
--@include core

-- Tell blocked workers a job can be taken now, unless paused/maxed.
local function signalReady(q, gate)
  if not gate.blocked then
    rcall("ZADD", q.marker, 0, "0")
  end
end

-- v5-compat switch (docs/bullmq.md §9.2, the "target rule"): when true, a job
-- that becomes ready while meta.paused is set goes to the legacy `paused`
-- list instead of `wait`. v6 (this build) always targets `wait`.
local PAUSED_LIST_TARGET = false

-- THE single place where every v6 path pushes a ready (priority 0) job to its
-- target list. pushCmd is "LPUSH" (queued last) or "RPUSH" (runs next).
-- Pass quiet = true to skip the marker (caller signals once for a batch).
local function pushReady(q, gate, pushCmd, jobId, quiet)
  local target = q.wait
  -- the 5.x target rule (docs/bullmq.md §9.2) goes here.
  if PAUSED_LIST_TARGET and gate.paused then
    target = q.paused
  end
  rcall(pushCmd, target, jobId)
  if not quiet then signalReady(q, gate) end
end

-- Score in `prioritized`: priority in the high bits, a wrapping insertion
-- counter (q.pc) in the low 32 bits for FIFO within one priority.
local function addPrioritized(q, gate, priority, jobId, quiet)
  local seq = rcall("INCR", q.pc)
  rcall("ZADD", q.prioritized, priority * 0x100000000 + seq % 0x100000000, jobId)
  if not quiet then signalReady(q, gate) end
end

-- Delayed zset score for a job due at now+delay: dueMs*4096 + a per-ms
-- sequence (the highest score already in that ms bucket + 1, capped).
-- Returns score, dueMs.
local function delayedScoreFor(delayedKey, now, delay)
  local due = tonumber(now)
  if delay > 0 then due = due + delay end
  local low = due * 0x1000
  local high = low + 0xFFF
  local top = rcall("ZREVRANGEBYSCORE", delayedKey, high, low, "WITHSCORES", "LIMIT", 0, 1)
  local topScore = tonumber(top[2])
  if topScore == nil then return low, due end
  if topScore >= high then return high, due end
  return topScore + 1, due
end

-- Due time (ms, possibly fractional) of the earliest delayed job, or nil.
local function earliestDelayedDue(delayedKey)
  local head = rcall("ZRANGE", delayedKey, 0, 0, "WITHSCORES")
  local score = tonumber(head[2])
  if score ~= nil then return score / 0x1000 end
  return nil
end

-- Point the "1" marker at the earliest delayed job, if there is one.
local function refreshDelayMarker(markerKey, delayedKey)
  local due = earliestDelayedDue(delayedKey)
  if due ~= nil then
    rcall("ZADD", markerKey, due, "1")
  end
end
