-- getState: the state of one job, named as Node's job.getState() names it
-- (docs/bullmq.md §4.18).
-- @key completed        queue
-- @key failed           queue
-- @key delayed          queue
-- @key prioritized      queue
-- @key active           queue
-- @key wait             queue
-- @key paused           queue
-- @key waitingChildren  queue:waiting-children
-- @arg jobId            str
-- Reply: "completed" | "failed" | "delayed" | "prioritized" | "active" |
--        "waiting" | "waiting-children" | "unknown"
--@include core

local id = ARGV[1]

-- LPOS needs Redis 6.0.6; older servers get a scan of the list.
local function inList(key)
  local pos = redis.pcall("LPOS", key, id)
  if type(pos) == "table" and pos.err then
    for _, v in ipairs(rcall("LRANGE", key, 0, -1)) do
      if v == id then return true end
    end
    return false
  end
  return pos ~= false and pos ~= nil
end

if rcall("ZSCORE", KEYS[1], id) then return "completed" end
if rcall("ZSCORE", KEYS[2], id) then return "failed" end
if rcall("ZSCORE", KEYS[3], id) then return "delayed" end
if rcall("ZSCORE", KEYS[4], id) then return "prioritized" end
if inList(KEYS[5]) then return "active" end
if inList(KEYS[6]) or inList(KEYS[7]) then return "waiting" end
if rcall("ZSCORE", KEYS[8], id) then return "waiting-children" end
return "unknown"
