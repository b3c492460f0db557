-- promote: move due delayed jobs (at most 1000 per call) to wait/prioritized.
--@include core
--@include enqueue

local function promoteDueJobs(q, gate, prefix, now)
  local due = rcall("ZRANGEBYSCORE", q.delayed, 0, (now + 1) * 0x1000 - 1, "LIMIT", 0, 1000)
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
