-- enqueue: making jobs ready (wait list / prioritized) or delayed, and the
-- marker zset that wakes blocked workers.
--@include core
--@include gate

-- Tell blocked workers a job can be taken now, unless paused/maxed.
local function signalReady(q, gate)
  if not gate.blocked then
    rcall("ZADD", q.marker, 0, "0")
  end
end

-- The list a ready (priority 0) job goes to (docs/bullmq.md §9.2). Not
-- paused: `wait`. Paused: a 5.x resume renames `paused` over `wait`, a 6.x
-- resume merges `paused` into `wait`, so while paused:
--  * `paused` exists (5.x code paused or added): `paused`, safe under both;
--  * else `wait` exists (a 6.x pause left its backlog there): `wait`, as
--    creating `paused` would make a 5.x resume overwrite that backlog;
--  * else neither: `wait` if meta.version says 6.x (the 6.7.0 rule), else
--    `paused` (5.x, or unknown: what a 5.x resume expects).
-- Only a paused queue pays for these checks.
local function readyListOf(q, gate)
  if not gate.paused then return q.wait end
  if rcall("EXISTS", q.paused) == 1 then return q.paused end
  if rcall("EXISTS", q.wait) == 1 or isV6Queue(q.meta) then return q.wait end
  return q.paused
end

-- THE single place where every path pushes a ready (priority 0) job to its
-- target list. pushCmd is "LPUSH" (queued last) or "RPUSH" (runs next).
-- Pass quiet = true to skip the marker (caller signals once for a batch).
local function pushReady(q, gate, pushCmd, jobId, quiet)
  rcall(pushCmd, readyListOf(q, gate), jobId)
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
