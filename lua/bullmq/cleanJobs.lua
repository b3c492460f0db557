-- cleanJobs: one round of Node's queue.clean(grace, limit, state): jobs of a
-- state older than a time removed without a trace, then one `cleaned` event
-- (docs/bullmq.md "Admin operations").
-- @key events           queue
-- @arg prefix           base
-- @arg state            str     completed failed delayed prioritized wait paused active
-- @arg before           int     remove what is not newer than this (ms)
-- @arg limit            int     most to remove, 0 = no limit
-- Reply: the ids removed
--@include core
--@include admin

local base, state = ARGV[1], ARGV[2]
local before, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local key = base .. state
local gone = {}

-- The first of the fields present, as a number (nil when none is).
local function timeOf(jobKey, fields)
  for _, v in ipairs(rcall("HMGET", jobKey, unpack(fields))) do
    if v then return tonumber(v) end
  end
  return nil
end

local function old(id, fields)
  if isSchedulerIteration(base, id) then return false end
  local t = timeOf(base .. id, fields)
  return t == nil or t <= before
end

if state == "wait" or state == "paused" or state == "active" then
  local ids = rcall("LRANGE", key, limit > 0 and -limit or 0, -1)
  for i, id in ipairs(ids) do
    if limit > 0 and #gone >= limit then break end
    if (state ~= "active" or rcall("EXISTS", base .. id .. ":lock") == 0) and
        old(id, {"finishedOn", "processedOn", "timestamp"}) then
      rcall("LSET", key, i - 1 - #ids, "")
      dropJobQuietly(base, id)
      gone[#gone + 1] = id
    end
  end
  rcall("LREM", key, 0, "")
else
  local finished = state == "completed" or state == "failed"
  local upTo = finished and before or "+inf"
  local ids = limit > 0 and rcall("ZRANGEBYSCORE", key, 0, upTo, "LIMIT", 0, limit)
    or rcall("ZRANGEBYSCORE", key, 0, upTo)
  local fields = state == "delayed" and {"processedOn", "timestamp"} or {"timestamp"}
  for _, id in ipairs(ids) do
    if limit > 0 and #gone >= limit then break end
    if finished or old(id, fields) then
      dropJobQuietly(base, id)
      gone[#gone + 1] = id
    end
  end
  eachChunk(#gone, 7000, function(a, b) rcall("ZREM", key, unpack(gone, a, b)) end)
end
rcall("XADD", KEYS[1], "*", "event", "cleaned", "count", #gone)
return gone
