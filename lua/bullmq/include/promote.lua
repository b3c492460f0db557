-- promote: move due delayed jobs (at most 1000 per call) to wait/prioritized.
--@include core
--@include enqueue

-- Within one script call, once every job due at `now` was promoted, another
-- promotion for the same (or an earlier) `now` finds nothing, so it is skipped
-- (a batch of finishes promotes once).
local promotedUpTo = {}
local function promoteDueJobs(q, gate, prefix, now)
  local upTo = promotedUpTo[q.delayed]
  if upTo and tonumber(now) <= upTo then return end
  local due = rcall("ZRANGEBYSCORE", q.delayed, 0, (now + 1) * 0x1000 - 1, "LIMIT", 0, 1000)
  -- all due jobs are promoted now unless the 1000 cap was hit
  if #due < 1000 then promotedUpTo[q.delayed] = tonumber(now) end
  if #due == 0 then return end
  rcall("ZREM", q.delayed, unpack(due))
  for _, id in ipairs(due) do
    local jobKey = prefix .. id
    local priority = tonumber(rcall("HGET", jobKey, "priority")) or 0
    if priority == 0 then
      pushReady(q, gate, "LPUSH", id, true)
    else
      addPrioritized(q, gate, priority, id, true)
    end
    rcall("XADD", q.events, "*", "event", "waiting", "jobId", id, "prev", "delayed")
    rcall("HSET", jobKey, "delay", 0)
  end
  signalReady(q, gate)
end
