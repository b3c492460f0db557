-- moveStalledJobsToWait: the stalled-job checker (docs/bullmq.md §4.10).
-- @key stalled          queue
-- @key wait             queue
-- @key active           queue
-- @key stalledCheck     queue:stalled-check
-- @key meta             queue
-- @key paused           queue
-- @key marker           queue
-- @key events           queue
-- @key repeat           queue
-- @arg maxStalled       int     maxStalledCount
-- @arg prefix           base
-- @arg now              int     now (ms)
-- @arg interval         int     stalledInterval (ms)
-- Reply: array of the ids moved back to wait ({} if another worker checked
--        within the interval).
--@include core
--@include events
--@include gate
--@include enqueue

local stalledKey, activeKey, checkKey, repeatKey = KEYS[1], KEYS[3], KEYS[4], KEYS[9]
local q = { wait = KEYS[2], paused = KEYS[6], marker = KEYS[7], events = KEYS[8], meta = KEYS[5] }
local maxStalled = tonumber(ARGV[1])
local prefix, now = ARGV[2], ARGV[3]

if rcall("EXISTS", checkKey) == 1 then return {} end
rcall("SET", checkKey, now, "PX", ARGV[4])
trimEventsStream(q.meta, q.events)

-- Scheduler-owned jobs are never failed for stalling.
local function ownedByScheduler(jobKey)
  local sid = rcall("HGET", jobKey, "rjk")
  if not sid then return false end
  if rcall("EXISTS", repeatKey .. ":" .. sid) == 1 then return true end
  return rcall("ZSCORE", repeatKey, sid) ~= false
end

local recovered = {}
local suspects = rcall("SMEMBERS", stalledKey)
if #suspects > 0 then
  rcall("DEL", stalledKey)
  for _, id in ipairs(suspects) do
    if isLegacyMarkerId(id) then
      rcall("LREM", activeKey, 1, id)
    else
      local jobKey = prefix .. id
      -- Stalled = still listed as active and its lock has expired.
      if rcall("EXISTS", jobKey .. ":lock") == 0 and rcall("LREM", activeKey, 1, id) > 0 then
        local stalls = rcall("HINCRBY", jobKey, "stc", 1)
        if stalls > maxStalled and not ownedByScheduler(jobKey) then
          rcall("HSET", jobKey, "defa", "job stalled more than allowable limit")
        end
        pushReady(q, readGate(q.meta, activeKey), "RPUSH", id)
        rcall("XADD", q.events, "*", "event", "waiting", "jobId", id, "prev", "active")
        rcall("XADD", q.events, "*", "event", "stalled", "jobId", id)
        recovered[#recovered + 1] = id
      end
    end
  end
end

-- Everything active now is a suspect for the next round.
local active = rcall("LRANGE", activeKey, 0, -1)
eachChunk(#active, 7000, function(a, b) rcall("SADD", stalledKey, unpack(active, a, b)) end)

return recovered
