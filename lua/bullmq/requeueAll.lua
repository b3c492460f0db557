-- requeueAll: every failed job (up to a finish time) or every delayed job to
-- the wait list, as Node's queue.retryJobs() / queue.promoteJobs()
-- (docs/bullmq.md "Admin operations"). Priorities are not looked at: the jobs
-- are pushed to wait, as Node does.
-- @key wait             queue
-- @key paused           queue
-- @key active           queue
-- @key meta             queue
-- @key marker           queue
-- @key events           queue
-- @arg prefix           base
-- @arg state            str     "failed" | "delayed"
-- @arg upTo             str     highest score taken ("+inf" for all)
-- Reply: number of jobs moved
--@include core
--@include events
--@include enqueue
--@include admin

local base, state = ARGV[1], ARGV[2]
local setKey = base .. state
local q = {
  wait = KEYS[1], paused = KEYS[2], active = KEYS[3], meta = KEYS[4], marker = KEYS[5],
}
local gate = readGate(q.meta, q.active)
local moved = 0
while true do
  local ids = rcall("ZRANGEBYSCORE", setKey, 0, ARGV[3], "LIMIT", 0, 1000)
  if #ids == 0 then break end
  if state == "failed" then
    for _, id in ipairs(ids) do
      rcall("HDEL", base .. id, "finishedOn", "processedOn", "failedReason")
      backToParentDeps(base .. id, state)
    end
  end
  local cap = eventsCap(q.meta)
  for _, id in ipairs(ids) do
    rcall("XADD", KEYS[6], "MAXLEN", "~", cap, "*", "event", "waiting", "jobId", id,
      "prev", state)
  end
  local list = readyListOf(q, gate)
  eachChunk(#ids, 7000, function(a, b)
    rcall("ZREM", setKey, unpack(ids, a, b))
    rcall("LPUSH", list, unpack(ids, a, b))
  end)
  signalReady(q, gate)
  moved = moved + #ids
  if #ids < 1000 then break end
end
return moved
