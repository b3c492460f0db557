-- removeJob: a job and its children out of every state, with their data, as
-- Node's queue.remove(id) (docs/bullmq.md "Admin operations"). Refused while
-- the job or a child it waits for holds a lock.
-- @key jobKey           key     the job's hash
-- @arg prefix           base
-- @arg jobId            str
-- Reply: 1 removed | 0 locked | -1 no such job (its id is still taken out of
--        every state) | -8 the pending iteration of a job scheduler
--@include core
--@include events
--@include parents
--@include admin

local function isLockedTree(jobKey)
  if rcall("EXISTS", jobKey .. ":lock") == 1 then return true end
  for _, child in ipairs(rcall("SMEMBERS", jobKey .. ":dependencies")) do
    if isLockedTree(child) then return true end
  end
  return false
end

local function takeOutOfStates(base, id)
  for _, s in ipairs({"completed", "waiting-children", "delayed", "failed", "prioritized"}) do
    if rcall("ZREM", base .. s, id) == 1 then return s end
  end
  for _, s in ipairs({"wait", "paused", "active"}) do
    if rcall("LREM", base .. s, 1, id) == 1 then return s end
  end
  return "unknown"
end

local removeTree
local function removeChildren(jobKey)
  local kids = {}
  for _, k in ipairs(rcall("HKEYS", jobKey .. ":processed")) do kids[#kids + 1] = k end
  for _, k in ipairs(rcall("HKEYS", jobKey .. ":failed")) do kids[#kids + 1] = k end
  for _, k in ipairs(rcall("ZRANGE", jobKey .. ":unsuccessful", 0, -1)) do kids[#kids + 1] = k end
  for _, k in ipairs(rcall("SMEMBERS", jobKey .. ":dependencies")) do kids[#kids + 1] = k end
  for _, k in ipairs(kids) do
    local id, base = splitJobKey(k)
    removeTree(base, id, jobKey)
  end
end

removeTree = function(base, id, parentKey)
  local jobKey = base .. id
  unlinkFromParent(jobKey, parentKey)
  removeChildren(jobKey)
  local prev = takeOutOfStates(base, id)
  dropDedupOf(base, jobKey, id)
  if dropJobKeys(jobKey) > 0 then
    rcall("XADD", base .. "events", "MAXLEN", "~", eventsCap(base .. "meta"), "*",
      "event", "removed", "jobId", id, "prev", prev)
  end
end

local jobKey, base, jobId = KEYS[1], ARGV[1], ARGV[2]
if isSchedulerIteration(base, jobId) then return -8 end
if isLockedTree(jobKey) then return 0 end
local existed = rcall("EXISTS", jobKey) == 1
removeTree(base, jobId, nil)
if existed then return 1 end
return -1
